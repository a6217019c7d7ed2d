"""Tracker lists: loaders on the real published files, precedence, CNAME cloaking, bad files, updates."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import shared_data
from helpers import request, visit_with
from lanterne.detect import analyze
from lanterne.detect.attribution import Attribution
from lanterne.detect.lists import CompanyDB, ListError, load_adguard, load_disconnect, load_duckduckgo, update_lists
from lanterne.simweb import Router, SimRequest, SimResponse, SimulatedWeb


@pytest.fixture(scope="module")
def all_lists(tmp_path_factory) -> Path:
    from lanterne.detect.lists import lists_dir_from_published

    return lists_dir_from_published(shared_data("lists"), tmp_path_factory.mktemp("lists"))


def test_loaders_read_the_published_files() -> None:
    root = shared_data("lists")
    ddg, cnames = load_duckduckgo(root / "duckduckgo-tds" / "extension-tds.json")
    assert ddg.domains["tiktok.com"].company == "ByteDance" and ddg.domains["doubleclick.net"].company == "Google"
    assert len(ddg.domains) > 5000 and len(cnames) > 100
    disconnect = load_disconnect(root / "disconnect" / "services.json", root / "disconnect" / "entities.json")
    assert disconnect.domains["pangle-ads.com"].company == "ByteDance"
    assert disconnect.domains["pangle-ads.com"].category == "advertising"
    adguard = load_adguard(root / "adguard-companiesdb" / "trackers.json", root / "adguard-companiesdb" / "companies.json")
    assert adguard.domains["analytics.tiktok.com"].company == "ByteDance"
    assert adguard.domains["analytics.tiktok.com"].category == "analytics"


def test_more_specific_domain_wins_then_list_precedence(all_lists: Path) -> None:
    db = CompanyDB(lists_dir=all_lists)
    assert [i.name.split()[0] for i in db.loaded] == ["Lanterne", "Lanterne", "DuckDuckGo", "AdGuard", "Disconnect"]
    tiktok = db.lookup("analytics.tiktok.com")
    # AdGuard lists analytics.tiktok.com itself, more specific than the curated tiktok.com.
    assert (tiktok.company, tiktok.source, tiktok.domain) == ("ByteDance", "adguard", "analytics.tiktok.com")
    www = db.lookup("www.tiktok.com")
    assert (www.source, www.domain) == ("lanterne-curated", "tiktok.com")  # curated beats DuckDuckGo on a tie
    assert db.lookup("pixel.tapad.com").company == "Experian"  # ownership correction
    assert db.lookup("nothing-here.example") is None


def test_cname_cloaked_tracker_is_attributed(all_lists: Path) -> None:
    db = CompanyDB(lists_dir=all_lists)
    host, target = next(iter(sorted(db.cnames.items())))
    assert db.lookup(host) is None or db.lookup(host).cname_of is None
    owner = db.owner_of(host)
    assert owner is not None and owner.cname_of == target
    site = "https://www." + ".".join(host.split(".")[-2:]) + "/"
    visit = visit_with(site, request(f"https://{host}/b/ss/x"))
    assert not visit.requests[1].third_party  # by domain it is first party...
    (finding,) = Attribution(db).detect(__import__("lanterne.detect.engine", fromlist=["DetectContext"]).DetectContext(visit))
    assert finding.company == owner.company and finding.details["cname_cloaking"] == {host: target}


def test_malformed_list_is_named_and_bundled_lists_still_work(tmp_path: Path) -> None:
    (tmp_path / "duckduckgo-tds.json").write_text('{"trackers": {"x": ')
    (tmp_path / "disconnect-services.json").write_text('{"unexpected": true}')
    db = CompanyDB(lists_dir=tmp_path)
    assert len(db.errors) == 2
    assert str(tmp_path / "duckduckgo-tds.json") in db.errors[0] and "not valid JSON" in db.errors[0]
    assert "not a Disconnect services file" in db.errors[1]
    assert db.lookup("analytics.tiktok.com").company == "ByteDance"  # bundled lists unaffected
    with pytest.raises(ListError, match="no such file"):
        load_duckduckgo(tmp_path / "missing.json")


def test_lists_update_from_a_mirror(tmp_path: Path) -> None:
    root = shared_data("lists")
    files = {
        "/duckduckgo-tds.json": root / "duckduckgo-tds" / "extension-tds.json",
        "/disconnect-services.json": root / "disconnect" / "services.json",
        "/disconnect-entities.json": root / "disconnect" / "entities.json",
        "/easyprivacy.txt": root / "easyprivacy" / "easyprivacy.txt",
    }
    router = Router()

    def mirror(req: SimRequest) -> SimResponse:
        path = files.get(req.path)
        if path is None:
            return SimResponse(status=404, body=b"no")
        return SimResponse(body=path.read_bytes(), content_type="application/octet-stream")

    router.host("127.0.0.1", mirror)
    target = tmp_path / "cache"
    with SimulatedWeb(router) as web:
        report = update_lists(target, base_url=f"http://127.0.0.1:{web.port}")
    assert len(report) == 4 and all("saved to" in line for line in report)
    assert "CC BY-NC-SA 4.0" in (target / "ATTRIBUTION.md").read_text()
    db = CompanyDB(lists_dir=target)
    assert db.errors == [] and len(db.loaded) == 5
    # A broken download never replaces a good list.
    files["/duckduckgo-tds.json"] = tmp_path / "broken.json"
    (tmp_path / "broken.json").write_text("<html>rate limited</html>")
    before = (target / "duckduckgo-tds.json").read_bytes()
    with SimulatedWeb(router) as web:
        report = update_lists(target, base_url=f"http://127.0.0.1:{web.port}")
    assert "not updated" in report[0] and (target / "duckduckgo-tds.json").read_bytes() == before


def test_lists_show_command(tmp_path: Path) -> None:
    env = {"LANTERNE_LISTS_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "lanterne", "lists", "show"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0 and "AdGuard companiesdb" in result.stdout
