"""The SQLite schema, as an ordered list of migrations.

A store is marked as Lanterne's by `PRAGMA application_id`; `PRAGMA user_version` is its schema version.
Each migration moves the schema up by one version inside one transaction. Add new ones at the end; never
edit one that has been released.
"""

from __future__ import annotations

APPLICATION_ID = 0x4C4E5452  # "LNTR"

MIGRATIONS: list[str] = [
    # 1: sites, visits and everything captured in them; findings.
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE sites (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        host TEXT NOT NULL,
        site TEXT NOT NULL,
        added_at REAL NOT NULL
    );
    CREATE TABLE visits (
        id INTEGER PRIMARY KEY,
        site_id INTEGER NOT NULL REFERENCES sites(id),
        source TEXT NOT NULL,
        phase TEXT NOT NULL DEFAULT 'none',
        started_at REAL NOT NULL,
        finished_at REAL,
        outcome TEXT NOT NULL,
        reason TEXT,
        final_url TEXT,
        title TEXT,
        document_status INTEGER,
        pages TEXT,
        first_party_sites TEXT,
        dialogs TEXT,
        browser_version TEXT,
        options TEXT,
        har_path TEXT,
        screenshot_path TEXT
    );
    CREATE INDEX visits_site ON visits(site_id);
    CREATE TABLE requests (
        visit_id INTEGER NOT NULL REFERENCES visits(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        url TEXT NOT NULL,
        method TEXT NOT NULL,
        resource_type TEXT,
        started_at REAL,
        headers TEXT,
        body TEXT,
        body_encoding TEXT,
        body_size INTEGER,
        body_truncated INTEGER,
        frame_url TEXT,
        is_navigation INTEGER,
        initiator_type TEXT,
        initiator_url TEXT,
        initiator_stack TEXT,
        timing TEXT,
        redirected_from INTEGER,
        page_index INTEGER,
        host TEXT,
        site TEXT,
        third_party INTEGER,
        failure TEXT,
        PRIMARY KEY (visit_id, seq)
    );
    CREATE INDEX requests_site ON requests(site);
    CREATE TABLE responses (
        visit_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        status INTEGER,
        status_text TEXT,
        headers TEXT,
        set_cookies TEXT,
        mime_type TEXT,
        remote_address TEXT,
        protocol TEXT,
        encoded_size INTEGER,
        PRIMARY KEY (visit_id, seq),
        FOREIGN KEY (visit_id, seq) REFERENCES requests(visit_id, seq) ON DELETE CASCADE
    );
    CREATE TABLE cookies (
        id INTEGER PRIMARY KEY,
        visit_id INTEGER NOT NULL REFERENCES visits(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        value TEXT,
        domain TEXT,
        path TEXT,
        expires REAL,
        http_only INTEGER,
        secure INTEGER,
        same_site TEXT,
        size INTEGER,
        site TEXT,
        third_party INTEGER,
        partition_key TEXT
    );
    CREATE INDEX cookies_visit ON cookies(visit_id);
    CREATE TABLE storage (
        id INTEGER PRIMARY KEY,
        visit_id INTEGER NOT NULL REFERENCES visits(id) ON DELETE CASCADE,
        origin TEXT,
        kind TEXT,
        key TEXT,
        value TEXT,
        size INTEGER
    );
    CREATE INDEX storage_visit ON storage(visit_id);
    CREATE TABLE storage_writes (
        id INTEGER PRIMARY KEY,
        visit_id INTEGER NOT NULL REFERENCES visits(id) ON DELETE CASCADE,
        time REAL,
        origin TEXT,
        kind TEXT,
        key TEXT,
        value TEXT
    );
    CREATE INDEX storage_writes_visit ON storage_writes(visit_id);
    CREATE TABLE websocket_frames (
        id INTEGER PRIMARY KEY,
        visit_id INTEGER NOT NULL REFERENCES visits(id) ON DELETE CASCADE,
        url TEXT,
        direction TEXT,
        payload TEXT,
        size INTEGER,
        time REAL,
        opcode INTEGER
    );
    CREATE INDEX websocket_frames_visit ON websocket_frames(visit_id);
    CREATE TABLE findings (
        id INTEGER PRIMARY KEY,
        visit_id INTEGER NOT NULL REFERENCES visits(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        detector TEXT NOT NULL,
        company TEXT,
        domain TEXT,
        category TEXT,
        data_type TEXT,
        encoding TEXT,
        summary TEXT,
        evidence TEXT,
        details TEXT,
        before_submit INTEGER,
        phase TEXT NOT NULL DEFAULT 'none'
    );
    CREATE INDEX findings_visit ON findings(visit_id);
    CREATE INDEX findings_company ON findings(company);
    """,
    # 2: calls to watched browser APIs (fingerprinting, session recording), by script.
    """
    CREATE TABLE js_calls (
        id INTEGER PRIMARY KEY,
        visit_id INTEGER NOT NULL REFERENCES visits(id) ON DELETE CASCADE,
        frame_url TEXT,
        script_url TEXT,
        api TEXT NOT NULL,
        count INTEGER NOT NULL,
        args TEXT
    );
    CREATE INDEX js_calls_visit ON js_calls(visit_id);
    """,
    # 3: crawls: the list being crawled and the state of each of its sites, so a killed crawl resumes.
    """
    CREATE TABLE crawls (
        id INTEGER PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        list_path TEXT,
        created_at REAL NOT NULL,
        finished_at REAL,
        phases TEXT NOT NULL,
        options TEXT,
        total INTEGER NOT NULL
    );
    CREATE TABLE crawl_targets (
        id INTEGER PRIMARY KEY,
        crawl_id INTEGER NOT NULL REFERENCES crawls(id),
        position INTEGER NOT NULL,
        url TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        reason TEXT,
        worker TEXT,
        started_at REAL,
        finished_at REAL,
        UNIQUE (crawl_id, url)
    );
    CREATE INDEX crawl_targets_next ON crawl_targets(crawl_id, status, position);
    ALTER TABLE visits ADD COLUMN crawl_target_id INTEGER REFERENCES crawl_targets(id);
    CREATE INDEX visits_crawl_target ON visits(crawl_target_id);
    """,
    # 4: content-suppression measurement: topic counts with provenance, the TikTok Research API's
    # counting state, and the removal watch.
    """
    CREATE TABLE topic_counts (
        id INTEGER PRIMARY KEY,
        study TEXT NOT NULL,
        platform TEXT NOT NULL,
        hashtag TEXT NOT NULL,
        window_start TEXT NOT NULL,
        window_end TEXT NOT NULL,
        count INTEGER NOT NULL,
        source TEXT NOT NULL,
        collected_at TEXT,
        imported_at REAL NOT NULL,
        UNIQUE (study, platform, hashtag, window_start, window_end, source)
    );
    CREATE TABLE api_videos (
        study TEXT NOT NULL,
        hashtag TEXT NOT NULL,
        window_start TEXT NOT NULL,
        window_end TEXT NOT NULL,
        video_id TEXT NOT NULL,
        create_time INTEGER,
        region_code TEXT,
        PRIMARY KEY (study, hashtag, window_start, window_end, video_id)
    );
    CREATE TABLE api_progress (
        study TEXT NOT NULL,
        hashtag TEXT NOT NULL,
        window_start TEXT NOT NULL,
        window_end TEXT NOT NULL,
        search_id TEXT,
        cursor INTEGER NOT NULL DEFAULT 0,
        pages INTEGER NOT NULL DEFAULT 0,
        finished INTEGER NOT NULL DEFAULT 0,
        restarts INTEGER NOT NULL DEFAULT 0,
        updated_at REAL,
        PRIMARY KEY (study, hashtag, window_start, window_end)
    );
    CREATE TABLE api_requests (
        day TEXT PRIMARY KEY,
        count INTEGER NOT NULL
    );
    CREATE TABLE watch_items (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        topic TEXT NOT NULL,
        added_at REAL NOT NULL
    );
    CREATE TABLE watch_checks (
        id INTEGER PRIMARY KEY,
        item_id INTEGER NOT NULL REFERENCES watch_items(id),
        checked_at REAL NOT NULL,
        vantage TEXT NOT NULL,
        http_status INTEGER,
        status_code INTEGER,
        state TEXT NOT NULL,
        note TEXT
    );
    CREATE INDEX watch_checks_item ON watch_checks(item_id, checked_at);
    """,
    # 5: the crawl's recent rate reads only the sites finished in the last minutes, not every finished site
    # (at a million sites the scan took a quarter of a second, several times a second).
    """
    CREATE INDEX crawl_targets_finished ON crawl_targets(crawl_id, finished_at);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)

# Tables in export order, with the columns that hold JSON text.
TABLES: dict[str, tuple[str, ...]] = {
    "crawls": ("phases", "options"),
    "crawl_targets": (),
    "sites": (),
    "visits": ("pages", "first_party_sites", "dialogs", "options"),
    "requests": ("headers", "initiator_stack", "timing"),
    "responses": ("headers", "set_cookies"),
    "cookies": (),
    "storage": (),
    "storage_writes": (),
    "websocket_frames": (),
    "findings": ("evidence", "details"),
    "js_calls": ("args",),
    "topic_counts": (),
    "watch_items": (),
    "watch_checks": (),
}
