#!/usr/bin/python3
"""Renders the krew-release-bot style manifest template offline.

Usage: render-krew-manifest.py TEMPLATE VERSION DIST OUT [BASE_URL]

{{ .TagName }} becomes VERSION, and {{ addURIAndSha "URL" .TagName }}
becomes the uri and the sha256 of the archive of that name in DIST; with
BASE_URL, the uri is BASE_URL/NAME instead of the template's URL (an
archive served from elsewhere, as the tests do). Platforms whose archive
was not built are left out.
"""
import hashlib
import os
import re
import sys

ADD = re.compile(r'\{\{ addURIAndSha "([^"]+)" \.TagName \}\}')


def main(template, version, dist, out, base_url=None):
    text = open(template).read()
    head, *platforms = text.split("\n  - selector:")
    kept = []
    for block in platforms:
        m = ADD.search(block)
        url = m.group(1).replace("{{ .TagName }}", version)
        archive = os.path.join(dist, os.path.basename(url))
        if base_url:
            url = base_url.rstrip("/") + "/" + os.path.basename(url)
        if not os.path.exists(archive):
            continue
        with open(archive, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        kept.append(block[:m.start()] + f"uri: {url}\n    sha256: {sha}" + block[m.end():])
    if not kept:
        sys.exit(f"no archive for any platform in {dist}")
    rendered = "\n  - selector:".join([head] + kept).replace("{{ .TagName }}", version)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(rendered)


if __name__ == "__main__":
    main(*sys.argv[1:])
