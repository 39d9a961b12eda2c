"""A grid trial's reports to Tune, run in this process (no Ray instance): each one makes the trial
wait for the driver, so they are sent every epoch only where something uses every epoch.

``regbench.scheduler`` imports Ray Tune, and is meant to be imported only once Ray's environment
is prepared (``regbench.cluster.prepare_environment``): imported here at collection, before any
test ran, it made the in-process ``ray.init`` of test_grid_ray.py's killed-driver test hang. So it
is imported inside the test."""
import json

import pytest
import torch

from regbench.cluster import prepare_environment


@pytest.mark.parametrize("every_epoch, steps", [(True, [0, 1, 2, 3]), (False, [0])])
def test_a_trial_reports_every_epoch_only_where_something_uses_every_epoch(
        every_epoch, steps, monkeypatch, tmp_path):
    prepare_environment("127.0.0.1")
    from regbench import scheduler
    sent = []
    monkeypatch.setattr(scheduler.tune, "report", sent.append)
    monkeypatch.chdir(tmp_path)  # the trial moves to the driver's directory; this one is undone
    trial = {"task": "digits_ae", "reg": "none", "settings": {"task.epochs": 4}, "seed": 0}
    scheduler.trainable({"trial": trial}, plugins=[], cwd=str(tmp_path),
                        resources={"cpu": torch.get_num_threads(), "gpu": 0},
                        required=["val_mse"], results_dir=str(tmp_path), every_epoch=every_epoch)
    running, final = sent[:-1], sent[-1]
    assert [r["step"] for r in running] == steps
    assert all(r["outcome"] == "running" and "val_mse" in r for r in running)
    assert final["outcome"] == "ok" and json.loads(final["record_json"])["task_params"]["epochs"] == 4
