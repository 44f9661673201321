# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark's counter of API requests: sums the ``api_requests`` of every task result and writes them, with
the per task and host counts, as JSON to the file named by ``MESHFED_BENCH_REQUESTS`` at the end of the playbook.

bench/run.py enables it beside the checkout's own stdout callback, so that measured runs print what a user's do
(the JSON stdout callback keeps every result, federation included, and writes them all at the end: seconds at
K = 1000)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = """
name: bench_requests
type: aggregate
short_description: API requests of meshfed's modules, for bench/run.py
description: Sums the api_requests of every task result into the JSON file named by MESHFED_BENCH_REQUESTS.
requirements: [enabled in callbacks_enabled]
"""

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_requests"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.total = {}
        self.tasks = []

    def _add(self, result):
        # the raw result where there is one: the callbacks' copy (result.result) is made plain at some cost
        data = getattr(result, "_return_data", None)
        if data is None:
            data = result._result
        requests = dict((verb, n) for verb, n in (data.get("api_requests") or {}).items() if isinstance(n, int))
        if requests:
            for verb, n in requests.items():
                self.total[verb] = self.total.get(verb, 0) + n
            self.tasks.append([result._task.get_name(), result._host.get_name(), requests])

    def v2_runner_on_ok(self, result):
        self._add(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._add(result)

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("MESHFED_BENCH_REQUESTS")
        if path:
            with open(path, "w") as f:
                json.dump({"total": self.total, "tasks": self.tasks}, f)
