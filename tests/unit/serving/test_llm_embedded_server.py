"""EmbeddedLLM's configuration, without starting llama.cpp."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.serving.llm.embedded_server import (
    GGUF_FILE,
    EmbeddedLLM,
    EmbeddedLLMError,
    default_model_path,
)


def test_the_gguf_is_found_without_importing_its_package() -> None:
    path = default_model_path()

    assert path.name == GGUF_FILE
    assert path.stat().st_size > 50_000_000


def test_base_url_is_the_openai_root_on_loopback() -> None:
    llm = EmbeddedLLM(port=8088)

    assert llm.base_url == "http://127.0.0.1:8088/v1"
    assert not llm.running
    llm.stop()  # stopping what never started is harmless


def test_port_zero_has_no_url_before_start() -> None:
    with pytest.raises(EmbeddedLLMError, match="after it"):
        _ = EmbeddedLLM(port=0).base_url


@pytest.mark.parametrize(
    ("port", "threads", "ctx_size"), [(70000, 2, 4096), (1, 0, 4096), (1, 2, 256)]
)
def test_nonsense_settings_are_refused(port: int, threads: int, ctx_size: int) -> None:
    with pytest.raises(ValueError):
        EmbeddedLLM(port=port, threads=threads, ctx_size=ctx_size)


def test_a_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    llm = EmbeddedLLM(port=0, model_path=tmp_path / "missing.gguf")
    with pytest.raises(EmbeddedLLMError, match="does not exist"):
        llm.start(timeout=5)
    assert not llm.running
