"""read_image / write_image: depth, layout and errors that name the file."""

from __future__ import annotations

import numpy as np
import pytest

from zdce_core.io.images import ImageReadError, read_image, write_image


@pytest.mark.parametrize(
    ("name", "array"),
    [
        ("rgb.png", np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)),
        ("grey16.png", (np.arange(20, dtype=np.uint16) * 3000).reshape(4, 5)),
        ("rgb16.png", (np.arange(60, dtype=np.uint16) * 1000).reshape(4, 5, 3)),
        ("rgba.png", np.arange(4 * 5 * 4, dtype=np.uint8).reshape(4, 5, 4)),
        ("rgb16.tif", (np.arange(60, dtype=np.uint16) * 1000).reshape(4, 5, 3)),
    ],
)
def test_lossless_round_trip(tmp_path, name, array):
    write_image(tmp_path / name, array)
    back = read_image(tmp_path / name)
    assert back.dtype == array.dtype
    np.testing.assert_array_equal(back, array)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left behind


def test_unknown_extension_names_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"out\.xyz: unknown output format"):
        write_image(tmp_path / "out.xyz", np.zeros((2, 2, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_unreadable_file_names_the_file(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(ImageReadError, match="broken.png"):
        read_image(bad)
