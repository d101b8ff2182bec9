# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""A local stand-in for the Hugging Face Hub API: just enough for huggingface_hub's ``whoami``, ``create_repo``,
``create_branch`` and ``create_commit`` (with README validation and the preupload step), recording every request.

Endpoints: ``GET /api/whoami-v2``, ``POST /api/repos/create``, ``POST /api/validate-yaml``,
``POST /api/{type}s/{namespace}/{name}/branch/{branch}``, ``POST /api/{type}s/{namespace}/{name}/preupload/{rev}``
(every file "regular": inline base64 in the commit, no LFS) and ``POST /api/{type}s/{namespace}/{name}/commit/{rev}``
(ndjson). Anything else answers 404 and is recorded too. Use in-process (:class:`FakeHub`) or as a script
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
from urllib.parse import unquote, urlparse

import yaml
from huggingface_hub.repocard_data import model_index_to_eval_results


_REPO_ROUTE = re.compile(r"^/api/(models|datasets|spaces)/([^/]+/[^/]+)/(branch|preupload|commit)/(.+)$")


class FakeHub:
    """An HTTP server on 127.0.0.1 that records requests in ``self.requests`` (and ``log_file``)."""

    def __init__(
        self,
        log_file: str | Path | None = None,
        user: str = "tester",
        commit_gate: threading.Event | None = None,
        fail_commits: bool = False,
    ) -> None:
        """``commit_gate``: every commit waits until the event is set (at most 60 s; its entry records whether it
        was set), a Hub as slow as the test wants; ``fail_commits``: answer commits with 500."""
        self.commit_gate = commit_gate
        self.fail_commits = fail_commits
        self.requests: list[dict] = []
        self.repos: dict[str, set[str]] = {}  # "type/repo_id" -> branches
        self.files: dict[tuple[str, str, str], bytes] = {}  # (type/repo_id, branch, path) -> content
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
        path = urlparse(handler.path).path
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        status, payload, entry = self._route(method, path, body)
        entry.update(method=method, path=path, status=status)
        self._record(entry)
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _route(self, method: str, path: str, body: bytes) -> tuple[int, dict, dict]:
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
                return 200, {}, entry
            if revision not in self.repos[key]:
                return 404, {"error": f"Invalid rev id: {revision}"}, entry
            if action == "preupload":
                files = json.loads(body)["files"]
                entry["paths"] = [f["path"] for f in files]
                modes = [
                    {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None} for f in files
                ]
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
                elif line["key"] != "header":
                    return 400, {"error": f"unsupported commit operation {line['key']}"}, entry
            entry.update(summary=header["summary"], files=added)
            oid = hashlib.sha1(body).hexdigest()
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
