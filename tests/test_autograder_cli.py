"""The instructor's command line refuses bad arguments with a message that names them."""

import pytest

from autograder.cli import main


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["grade", "99_nope", "{tmp}", "--out", "{tmp}/out"],
            "unknown exercise '99_nope'; the exercises are: 01_minibatch, 02_lr_decay",
        ),
        (["grade", "04_momentum", "{tmp}/missing", "--out", "{tmp}/out"], "no folder of submissions at"),
        (["grade", "04_momentum", "{tmp}", "--out", "{tmp}/out", "--root", "{tmp}/empty"], "04_momentum is not built"),
        (["grade", "04_momentum", "{tmp}", "--out", "{tmp}/out", "--engine", "docker"], "invalid choice: 'docker'"),
    ],
)
def test_grade_rejects_bad_arguments(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main([arg.format(tmp=tmp_path) for arg in argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
