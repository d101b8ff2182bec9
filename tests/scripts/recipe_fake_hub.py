# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""A local stand-in for the Hugging Face Hub API: just enough for huggingface_hub's ``whoami``, ``create_repo``,
``create_branch`` and ``create_commit`` (with README validation and the preupload step), recording every request.

Endpoints: ``GET /api/whoami-v2``, ``POST /api/repos/create``, ``POST /api/validate-yaml``,
``POST /api/{type}s/{namespace}/{name}/branch/{branch}``, ``POST /api/{type}s/{namespace}/{name}/preupload/{rev}``
(every file "regular", inline base64 in the commit, except ``lfs_suffixes``: LFS through
``POST /[{type}s/]{namespace}/{name}.git/info/lfs/objects/batch`` and ``PUT /lfs/{oid}``, "basic" transfer) and ``POST /api/{type}s/{namespace}/{name}/commit/{rev}``
(ndjson: files added or deleted); the reads ``datasets``' ``push_to_hub`` makes: ``GET /api/{type}s/{namespace}/{name}``
(optionally ``/revision/{rev}``, a branch or a commit sha), ``GET /api/{type}s/{namespace}/{name}/tree/{rev}/{path}``
and ``GET``/``HEAD /[{type}s/]{namespace}/{name}/resolve/{rev}/{path}`` (with ``Range``). Anything else answers 404
and is recorded too. Use in-process (:class:`FakeHub`) or as a script
(``python recipe_fake_hub.py PORT_FILE LOG_FILE``: writes the port, appends one JSON request a line).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import yaml
from huggingface_hub.repocard_data import model_index_to_eval_results


_REPO_ROUTE = re.compile(r"^/api/(models|datasets|spaces)/([^/]+/[^/]+)/(branch|preupload|commit)/(.+)$")
_INFO_ROUTE = re.compile(r"^/api/(models|datasets|spaces)/([^/]+/[^/]+)(?:/revision/([^/]+))?$")
_TREE_ROUTE = re.compile(r"^/api/(models|datasets|spaces)/([^/]+/[^/]+)/tree/([^/]+)(?:/(.*))?$")
_LFS_BATCH_ROUTE = re.compile(r"^/(?:(datasets|spaces)/)?([^/]+/[^/]+)\.git/info/lfs/objects/batch$")
_RESOLVE_ROUTE = re.compile(r"^/(?:(datasets|spaces)/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")


class FakeHub:
    """An HTTP server on 127.0.0.1 that records requests in ``self.requests`` (and ``log_file``)."""

    def __init__(
        self,
        log_file: str | Path | None = None,
        user: str = "tester",
        commit_gate: threading.Event | None = None,
        fail_commits: bool = False,
        lfs_suffixes: tuple[str, ...] = (),
    ) -> None:
        """``commit_gate``: every commit waits until the event is set (at most 60 s; its entry records whether it
        was set), a Hub as slow as the test wants; ``fail_commits``: answer commits with 500; ``lfs_suffixes``: files
        uploaded through LFS, as the Hub does for Parquet (set ``huggingface_hub.constants.HF_HUB_DISABLE_XET``:
        the fake has no Xet)."""
        self.lfs_suffixes = lfs_suffixes
        self.lfs: dict[str, bytes] = {}  # sha256 -> content uploaded through LFS
        self.commit_gate = commit_gate
        self.fail_commits = fail_commits
        self.requests: list[dict] = []
        self.repos: dict[str, set[str]] = {}  # "type/repo_id" -> branches
        self.files: dict[tuple[str, str, str], bytes] = {}  # (type/repo_id, branch, path) -> content
        self.heads: dict[tuple[str, str], str] = {}  # (type/repo_id, branch) -> commit sha
        self.log_file = Path(log_file) if log_file else None
        self.user = user
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                hub._handle(self, "GET")

            def do_POST(self):
                hub._handle(self, "POST")

            def do_HEAD(self):
                hub._handle(self, "HEAD")

            def do_PUT(self):
                hub._handle(self, "PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- request handling ----------------------------------------------------------------------------------------
    def _record(self, entry: dict) -> None:
        with self.lock:
            self.requests.append(entry)
            if self.log_file:
                with self.log_file.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlparse(handler.path)
        path = url.path
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        if method in ("GET", "HEAD") and (path.startswith("/api/") and _INFO_ROUTE.match(path) or
                                          _TREE_ROUTE.match(path) or _RESOLVE_ROUTE.match(path)):  # fmt: skip
            status, payload, entry = self._read(path, parse_qs(url.query), handler.headers.get("Range"))
        else:
            status, payload, entry = self._route(method, path, body)
        headers = entry.pop("headers", {})
        entry.update(method=method, path=path, status=status)
        self._record(entry)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header(
            "Content-Type", "application/octet-stream" if isinstance(payload, bytes) else "application/json"
        )
        handler.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if method != "HEAD":
            handler.wfile.write(data)

    def _branch(self, key: str, revision: str) -> str | None:
        """The branch ``revision`` names: itself, or the branch whose head commit it is."""
        if revision in self.repos.get(key, ()):
            return revision
        return next((b for (k, b), sha in self.heads.items() if k == key and sha == revision), None)

    def _read(self, path: str, query: dict, range_header: str | None) -> tuple[int, dict | bytes, dict]:
        """Repository info, tree listings and file downloads, from what was committed."""
        routes = (("repo_info", _INFO_ROUTE), ("tree", _TREE_ROUTE), ("resolve", _RESOLVE_ROUTE))
        kind, match = next((kind, m) for kind, route in routes if (m := route.match(path)))
        plural, repo_id, revision, *rest = match.groups()
        repo_type = (plural or "models")[:-1]
        key, revision = f"{repo_type}/{repo_id}", unquote(revision or "main")
        entry = {"kind": kind, "repo_type": repo_type, "repo_id": repo_id, "revision": revision}
        if key not in self.repos:
            return 404, {"error": "Repository not found"}, {**entry, "headers": {"X-Error-Code": "RepoNotFound"}}
        branch = self._branch(key, revision)
        if branch is None:
            return (
                404,
                {"error": f"Invalid rev id: {revision}"},
                {**entry, "headers": {"X-Error-Code": "RevisionNotFound"}},
            )
        sha = self.heads[(key, branch)]
        files = {p: c for (k, b, p), c in self.files.items() if k == key and b == branch}
        if kind == "repo_info":
            siblings = [{"rfilename": p} for p in sorted(files)]
            return 200, {"id": repo_id, "sha": sha, "private": False, "siblings": siblings}, entry
        target = unquote(rest[0] or "").strip("/")
        if kind == "resolve":
            if target not in files:
                return 404, {"error": "Entry not found"}, {**entry, "headers": {"X-Error-Code": "EntryNotFound"}}
            content, status = files[target], 200
            if range_header:
                start, _, end = range_header.removeprefix("bytes=").partition("-")
                content, status = content[int(start) : int(end) + 1 if end else None], 206
            etag = hashlib.sha1(files[target]).hexdigest()
            return status, content, {**entry, "headers": {"X-Repo-Commit": sha, "ETag": f'"{etag}"'}}
        prefix = f"{target}/" if target else ""
        recursive = query.get("recursive", ["false"])[0].lower() == "true"
        entries: dict[str, dict] = {}
        for name, content in sorted(files.items()):
            if not name.startswith(prefix):
                continue
            parts = name[len(prefix) :].split("/")
            for depth in range(1, len(parts) if recursive else min(len(parts), 2)):
                folder = prefix + "/".join(parts[:depth])
                entries.setdefault(folder, {"type": "directory", "oid": sha, "path": folder})
            if recursive or len(parts) == 1:
                entries[name] = {"type": "file", "oid": hashlib.sha1(content).hexdigest(), "size": len(content),
                                 "path": name}  # fmt: skip
        if target and not entries:
            return 404, {"error": "Entry not found"}, {**entry, "headers": {"X-Error-Code": "EntryNotFound"}}
        return 200, list(entries.values()), entry

    def _route(self, method: str, path: str, body: bytes) -> tuple[int, dict, dict]:
        if method == "PUT" and path.startswith("/lfs/"):
            oid = path.removeprefix("/lfs/")
            entry = {"kind": "lfs_upload", "oid": oid, "size": len(body)}
            if hashlib.sha256(body).hexdigest() != oid:
                return 400, {"error": "sha256 mismatch"}, entry
            self.lfs[oid] = body
            return 200, {}, entry
        lfs_batch = _LFS_BATCH_ROUTE.match(path)
        if method == "POST" and lfs_batch:
            objects = json.loads(body)["objects"]
            entry = {"kind": "lfs_batch", "repo_id": lfs_batch.group(2), "oids": [o["oid"] for o in objects]}
            actions = [{"oid": o["oid"], "size": o["size"], "actions": {"upload": {"href": f"{self.url}/lfs/{o['oid']}"}}}
                       for o in objects]  # fmt: skip
            return 200, {"transfer": "basic", "objects": actions}, entry
        if method == "GET" and path == "/api/whoami-v2":
            return 200, {"name": self.user, "type": "user", "orgs": [], "auth": {}}, {"kind": "whoami"}
        if method == "POST" and path == "/api/repos/create":
            request = json.loads(body)
            repo_type = request.get("type") or "model"
            repo_id = f"{request.get('organization') or self.user}/{request['name']}"
            key = f"{repo_type}/{repo_id}"
            entry = {"kind": "create_repo", "repo_type": repo_type, "repo_id": repo_id, "body": request}
            if key in self.repos:
                return 409, {"error": "You already created this repo", "url": f"{self.url}/{repo_id}"}, entry
            self.repos[key] = {"main"}
            self.heads[(key, "main")] = hashlib.sha1(key.encode()).hexdigest()
            return 200, {"url": f"{self.url}/{repo_id}", "name": repo_id}, entry
        if method == "POST" and path == "/api/validate-yaml":
            request = json.loads(body)
            entry = {"kind": "validate_yaml", "repo_type": request.get("repoType"), "content": request["content"]}
            error = _validate_readme(request["content"])
            return (400, {"error": error}, entry) if error else (200, {"warnings": []}, entry)
        match = _REPO_ROUTE.match(path)
        if method == "POST" and match:
            plural, repo_id, action, revision = match.groups()
            repo_type, revision = plural[:-1], unquote(revision)
            key = f"{repo_type}/{repo_id}"
            entry = {"kind": action, "repo_type": repo_type, "repo_id": repo_id, "revision": revision}
            if key not in self.repos:
                return 404, {"error": "Repository not found"}, entry
            if action == "branch":
                if revision in self.repos[key]:
                    return 409, {"error": "Reference already exists"}, entry
                self.repos[key].add(revision)
                self.heads[(key, revision)] = self.heads[(key, "main")]
                return 200, {}, entry
            if revision not in self.repos[key]:
                return 404, {"error": f"Invalid rev id: {revision}"}, entry
            if action == "preupload":
                files = json.loads(body)["files"]
                entry["paths"] = [f["path"] for f in files]
                modes = [
                    {"path": f["path"], "uploadMode": "lfs" if f["path"].endswith(self.lfs_suffixes) else "regular",
                     "shouldIgnore": False, "oid": None}
                    for f in files
                ]  # fmt: skip
                return 200, {"files": modes}, entry
            if self.fail_commits:
                return 500, {"error": "the fake Hub refuses commits"}, entry
            if self.commit_gate is not None:
                entry["gate_opened"] = self.commit_gate.wait(timeout=60)
            lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
            header = next(line["value"] for line in lines if line["key"] == "header")
            added = {}
            for line in lines:
                if line["key"] == "file":
                    content = base64.b64decode(line["value"]["content"])
                    added[line["value"]["path"]] = hashlib.sha256(content).hexdigest()
                    self.files[(key, revision, line["value"]["path"])] = content
                elif line["key"] == "lfsFile":
                    oid = line["value"]["oid"]
                    if oid not in self.lfs:
                        return 400, {"error": f"LFS object {oid} was never uploaded"}, entry
                    added[line["value"]["path"]] = hashlib.sha256(self.lfs[oid]).hexdigest()
                    self.files[(key, revision, line["value"]["path"])] = self.lfs[oid]
                elif line["key"] == "deletedFile":
                    self.files.pop((key, revision, line["value"]["path"]), None)
                elif line["key"] != "header":
                    return 400, {"error": f"unsupported commit operation {line['key']}"}, entry
            entry.update(summary=header["summary"], files=added)
            oid = hashlib.sha1(body).hexdigest()
            self.heads[(key, revision)] = oid
            return (
                200,
                {"commitUrl": f"{self.url}/{repo_id}/commit/{oid}", "commitOid": oid, "pullRequestUrl": None},
                entry,
            )
        return 404, {"error": f"not implemented by the fake Hub: {method} {path}"}, {"kind": "unknown"}


def _validate_readme(content: str) -> str | None:
    """What the Hub rejects that we can check: a malformed YAML header or model-index."""
    if not content.startswith("---\n"):
        return None
    try:
        metadata = yaml.safe_load(content.split("---\n", 2)[1]) or {}
    except (yaml.YAMLError, IndexError) as err:
        return f"invalid YAML metadata: {err}"
    if "model-index" in metadata:
        try:
            model_index_to_eval_results(metadata["model-index"])
        except (KeyError, TypeError, ValueError) as err:
            return f"invalid model-index: {err!r}"
    return None


if __name__ == "__main__":
    port_file, log_file = sys.argv[1], sys.argv[2]
    with FakeHub(log_file) as hub:
        Path(port_file).write_text(str(hub.port))
        hub.thread.join()
