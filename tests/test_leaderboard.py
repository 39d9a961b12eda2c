from regbench.leaderboard import summary_tables, to_markdown


def record(reg, seed, metrics, task="digits_ae", status="ok", **reg_params):
    return {"task": task, "reg": reg, "seed": seed, "status": status, "metrics": metrics,
            "task_params": {"d": 8}, "reg_params": reg_params, "versions": {"git_commit": "abc"},
            "device": "cpu"}


def test_mean_std_n_and_best_by_direction():
    records = [record("none", s, {"test_mse": 0.2 + s, "cov_trace_per_d": 3.0, "knn_error": 0.1})
               for s in range(3)]
    records += [record("eccentric", s, {"test_mse": 0.1, "cov_trace_per_d": 1.1, "knn_error": 0.2},
                       mu=1.0) for s in range(2)]
    records.append(record("eccentric", 9, {"test_mse": 99.0}, status="failed", mu=1.0))
    stats = summary_tables(records)["digits_ae"]
    assert stats.loc[("none", ""), ("test_mse", "mean")] == 1.2
    assert stats.loc[("none", ""), ("test_mse", "count")] == 3
    text = to_markdown(records)
    assert "| eccentric | defaults | **0.1 ± 0 (2)** | **1.1 ± 0 (2)** |" in text
    assert "**0.1 ± 0 (3)**" in text  # knn_error: lower is better, none wins
    assert "commits abc" in text


def test_varying_hyperparameters_label_rows():
    records = [record("eccentric", 0, {"test_mse": 0.1}, mu=1.0),
               record("eccentric", 0, {"test_mse": 0.2}, mu=4.5)]
    text = to_markdown(records)
    assert "| eccentric | mu=1 |" in text and "| eccentric | mu=4.5 |" in text
