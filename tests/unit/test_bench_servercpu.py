"""Server CPU from a fake /proc: only the run's servers, the postmaster found safely."""

from pathlib import Path

import pytest

from sagabench.servercpu import TICK, Proc, find_postmaster, parse_stat, redis_cpu_from_info


def stat_line(pid: int, comm: str, ppid: int, utime: int, stime: int, cutime=0, cstime=0) -> str:
    # Fields 3..: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime ...
    rest = ["S", ppid, 1, 1, 0, -1, 0, 0, 0, 0, 0, utime, stime, cutime, cstime, 20, 0, 1, 0]
    return f"{pid} ({comm}) " + " ".join(str(value) for value in rest) + "\n"


@pytest.fixture
def proc(tmp_path: Path) -> Proc:
    processes = {
        100: stat_line(100, "postgres", 1, 50, 30, cutime=400, cstime=100),  # our postmaster
        101: stat_line(101, "postgres", 100, 7, 3),  # a live backend: ours
        102: stat_line(102, "postgres", 100, 20, 0),  # another live backend
        200: stat_line(200, "postgres", 1, 9000, 9000, 9000, 9000),  # someone else's server
        201: stat_line(201, "postgres", 200, 5000, 0),
        300: stat_line(300, "python3", 1, 1, 1),
    }
    for pid, line in processes.items():
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(line)
    (tmp_path / "self").mkdir()  # not a pid: ignored
    return Proc(tmp_path)


def test_parse_stat_survives_spaces_and_parentheses_in_the_name() -> None:
    stat = parse_stat(stat_line(7, "postgres: walwriter (x)", 3, 11, 12, 13, 14))
    assert (stat.comm, stat.ppid, stat.utime, stat.stime, stat.cutime, stat.cstime) == (
        "postgres: walwriter (x)", 3, 11, 12, 13, 14,
    )  # fmt: skip


def test_the_postmaster_counts_itself_its_exited_and_its_live_children_only(proc: Proc) -> None:
    from sagabench.servercpu import tree_cpu_seconds

    assert tree_cpu_seconds(100, proc) == pytest.approx((50 + 30 + 400 + 100 + 7 + 3 + 20) / TICK)
    assert tree_cpu_seconds(999, proc) is None  # gone: not zero


def test_the_postmaster_pid_file_is_used_when_it_agrees_with_our_backend(
    proc: Proc, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "postmaster.pid").write_text("100\n/var/lib/postgresql/data\n")
    pid, how = find_postmaster(str(data), 101, proc)
    assert pid == 100 and "postmaster.pid" in how


def test_without_a_readable_pid_file_the_backends_parent_is_the_postmaster(proc: Proc) -> None:
    pid, how = find_postmaster("/nonexistent", 101, proc)
    assert pid == 100 and "parent of backend 101" in how
    pid, _ = find_postmaster(None, 102, proc)
    assert pid == 100


def test_a_pid_file_naming_another_process_is_not_trusted(proc: Proc, tmp_path: Path) -> None:
    (tmp_path / "postmaster.pid").write_text("200\n")  # e.g. a server in a container
    pid, _ = find_postmaster(str(tmp_path), 101, proc)
    assert pid == 100


def test_a_server_on_another_machine_is_not_measured(proc: Proc) -> None:
    pid, why = find_postmaster("/var/lib/postgresql/data", 4242, proc)  # no such pid here
    assert pid is None and "not a local postgres process" in why
    pid, _ = find_postmaster(None, 300, proc)  # a local pid, but not a postgres backend
    assert pid is None


def test_redis_cpu_is_the_servers_own_and_its_childrens() -> None:
    info = {
        "used_cpu_sys": 1.5,
        "used_cpu_user": 2.25,
        "used_cpu_sys_children": 0.125,
        "used_cpu_user_children": 0.125,
        "used_cpu_sys_main_thread": 1.0,  # part of used_cpu_sys: not added again
    }
    assert redis_cpu_from_info(info) == 4.0
