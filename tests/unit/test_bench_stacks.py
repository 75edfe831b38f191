"""py-spy collapsed stacks summed by library: each sample to its deepest known frame."""

from pathlib import Path

from sagabench.stacks import OTHER, OWN, library_of, package_of, shares, summarise

LOOP = "_run_once (asyncio/base_events.py:1936);_run (asyncio/events.py:84)"
ROUTE = (
    "run_endpoint_function (fastapi/routing.py:381);get_booking (booking/entrypoints/routes.py:48)"
)
QUERY = (
    "AsyncConnection.execute (sqlalchemy/ext/asyncio/engine.py:658);"
    "BaseCursor._send_query_prepared (psycopg/_cursor_base.py:602)"
)
RAW = [
    f"<module> (uvicorn:8);{LOOP};{ROUTE};{QUERY} 7\n",
    f"<module> (uvicorn:8);{LOOP};{ROUTE} 3\n",
    f"<module> (uvicorn:8);{LOOP};BaseModel.model_dump (pydantic/main.py:426);"
    "dumps (json/__init__.py:231);encode (json/encoder.py:200) 4\n",
    f"<module> (uvicorn:8);{LOOP} 5\n",
    "select (selectors.py:468) 2\n",  # stdlib alone: the event loop's selector
    "<frozen importlib._bootstrap> (<frozen importlib._bootstrap>:1) 1\n",
    "not a stack line\n",
]


def test_a_frames_package_is_where_its_path_starts() -> None:
    assert package_of("BaseCursor._execute_gen (psycopg/_cursor_base.py:206)") == "psycopg"
    assert (
        package_of("f (/srv/app/.venv/lib/python3.11/site-packages/redis/client.py:9)") == "redis"
    )
    assert package_of("g (/work/main/services/booking/src/booking/app.py:3)") == "booking"
    assert package_of("h (/usr/lib/python3.11/asyncio/events.py:84)") == "asyncio"
    assert package_of("select (selectors.py:468)") == "selectors"
    assert package_of("no location") is None


def test_a_sample_belongs_to_its_deepest_known_frame() -> None:
    assert (
        library_of([*LOOP.split(";"), *ROUTE.split(";"), *QUERY.split(";")], "booking") == "psycopg"
    )
    assert library_of([*LOOP.split(";"), *ROUTE.split(";")], "booking") == OWN
    assert library_of(ROUTE.split(";"), "payment") == "fastapi/starlette/uvicorn"  # not its own
    assert library_of(["x (json/encoder.py:1)", "y (mystery/thing.py:2)"], "booking") == OTHER


def test_shares_count_samples_per_library_with_every_library_listed() -> None:
    counted = shares(RAW, own="booking")
    assert counted["psycopg"] == 7
    assert counted[OWN] == 3
    assert counted["pydantic"] == 4  # json called by pydantic is pydantic's
    assert counted["asyncio/uvloop"] == 5 + 2
    assert counted[OTHER] == 1
    assert counted["redis"] == 0 and counted["opentelemetry"] == 0
    assert list(counted)[-2:] == [OWN, OTHER]
    assert sum(counted.values()) == 22


def test_summary_file_has_a_column_per_service_and_shares_in_percent(tmp_path: Path) -> None:
    (tmp_path / "run-booking.txt").write_text("".join(RAW))
    (tmp_path / "run-payment.txt").write_text("f (redis/client.py:1) 1\n")
    out = summarise(tmp_path, "run", ["booking", "payment", "invoice"])  # invoice: no file
    text = out.read_text()
    assert out.name == "run-summary.md"
    assert "| library | booking | payment |" in text
    assert "| psycopg | 31.8% | 0.0% |" in text
    assert "| redis | 0.0% | 100.0% |" in text
    assert "| the service's own package | 13.6% | 0.0% |" in text
    assert "| samples | 22 | 1 |" in text
