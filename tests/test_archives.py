"""Safe, selective archive reading: hostile members refused, split and nested archives read in place."""

import io
import tarfile
import zipfile

import pytest

from segprep.errors import BadInput, UnsafeArchive
from segprep.io.archives import ArchiveReader, find_archive, iter_members, list_members, nested
from segprep.samples.archives import write_tar, write_zip

MEMBERS = [(f"top/d{i % 3}/{i:03d}.bin", bytes([i]) * (100 + 37 * i)) for i in range(40)]


def read_all(archive):
    reader = ArchiveReader()
    try:
        return {m.name: reader.read(archive, m) for m in list_members(archive)}
    finally:
        reader.close()


def test_zip_members_read_by_random_access(tmp_path):
    write_zip(tmp_path / "a.zip", MEMBERS)
    archive = find_archive(tmp_path, "a.zip")
    assert not archive.sequential
    assert read_all(archive) == dict(MEMBERS)


def test_split_tar_is_read_across_parts_without_joining_them(tmp_path):
    write_tar(tmp_path / "whole.tar", MEMBERS, compression="")
    data = (tmp_path / "whole.tar").read_bytes()
    cut = [0, 5000, 5100, len(data)]  # cuts fall inside members
    for i, (a, b) in enumerate(zip(cut, cut[1:])):
        (tmp_path / f"VSPW_data.tar_a{'abc'[i]}").write_bytes(data[a:b])
    archive = find_archive(tmp_path, "VSPW_data.tar")
    assert len(archive.parts) == 3 and not archive.sequential
    assert read_all(archive) == dict(MEMBERS)


def test_a_missing_part_is_named(tmp_path):
    for suffix in ("aa", "ac"):
        (tmp_path / f"VSPW_data.tar_{suffix}").write_bytes(b"x")
    with pytest.raises(BadInput, match="part 'ab' is missing"):
        find_archive(tmp_path, "VSPW_data.tar")


def test_compressed_tar_is_read_in_one_pass_and_stops_early(tmp_path):
    write_tar(tmp_path / "a.tar.gz", MEMBERS)
    archive = find_archive(tmp_path, "a.tar.gz")
    assert archive.sequential
    wanted = {MEMBERS[3][0], MEMBERS[10][0]}
    assert dict(iter_members(archive, wanted)) == {n: d for n, d in MEMBERS if n in wanted}
    with pytest.raises(ValueError):
        ArchiveReader().read(archive, list_members(archive)[0])


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_zip_inside_a_zip_is_read_without_extracting(tmp_path, compression):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in MEMBERS:
            zf.writestr(name, data)
    with zipfile.ZipFile(tmp_path / "outer.zip", "w") as zf:
        zf.writestr("annotations/readme.txt", b"hello")
        zf.writestr("annotations/panoptic_val2017.zip", inner.getvalue(), compress_type=compression)
    archive = nested(find_archive(tmp_path, "outer.zip"), "annotations/panoptic_val2017.zip")
    assert archive.sequential == (compression == zipfile.ZIP_DEFLATED)
    names = [m.name for m in list_members(archive)]
    assert names == [n for n, _ in MEMBERS]
    if archive.sequential:
        assert dict(iter_members(archive, names)) == dict(MEMBERS)
    else:
        assert read_all(archive) == dict(MEMBERS)


@pytest.mark.parametrize("name", ["../evil.png", "/etc/passwd", "a/../../evil", "C:/windows/evil", "a\\..\\..\\evil"])
def test_hostile_zip_member_is_refused_with_its_name(tmp_path, name):
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as zf:
        zf.writestr("fine/000000.png", b"ok")
        zf.writestr(zipfile.ZipInfo(name), b"evil")
    with pytest.raises(UnsafeArchive) as err:
        list_members(find_archive(tmp_path, "bad.zip"))
    assert name in str(err.value) and "bad.zip" in str(err.value)


def _tar_with(tmp_path, info: tarfile.TarInfo):
    with tarfile.open(tmp_path / "bad.tar.gz", "w:gz") as tf:
        ok = tarfile.TarInfo("fine/a.png")
        ok.size = 2
        tf.addfile(ok, io.BytesIO(b"ok"))
        tf.addfile(info)
    return find_archive(tmp_path, "bad.tar.gz")


@pytest.mark.parametrize("kind,name,target", [
    (tarfile.SYMTYPE, "fine/link", "../../etc/passwd"),
    (tarfile.SYMTYPE, "fine/abs", "/etc/passwd"),
    (tarfile.LNKTYPE, "fine/hard", "../outside"),
    (tarfile.REGTYPE, "../escape.png", ""),
    (tarfile.REGTYPE, "/abs.png", ""),
])
def test_hostile_tar_member_is_refused_with_its_name(tmp_path, kind, name, target):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    archive = _tar_with(tmp_path, info)
    with pytest.raises(UnsafeArchive) as err:
        list_members(archive)
    assert name in str(err.value)


def test_a_link_that_stays_inside_is_skipped_not_followed(tmp_path):
    info = tarfile.TarInfo("fine/link.png")
    info.type, info.linkname = tarfile.SYMTYPE, "a.png"
    assert [m.name for m in list_members(_tar_with(tmp_path, info))] == ["fine/a.png"]


def test_a_damaged_or_wrong_archive_is_a_clear_error(tmp_path):
    (tmp_path / "data_tracking_image_2.zip").write_bytes(b"<html>login required</html>")
    with pytest.raises(BadInput, match="data_tracking_image_2.zip.*download it again"):
        list_members(find_archive(tmp_path, "data_tracking_image_2.zip"))
    write_tar(tmp_path / "t.tar.gz", MEMBERS)
    data = (tmp_path / "t.tar.gz").read_bytes()
    (tmp_path / "t.tar.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInput, match="t.tar.gz"):
        list_members(find_archive(tmp_path, "t.tar.gz"))
