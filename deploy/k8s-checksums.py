#!/usr/bin/env python3
"""k8s-checksums.py [--check]: the DaemonSet's checksum/config and checksum/rules annotations
are the SHA-256 of the ConfigMap's eunomia.toml and rules.yaml texts, so that an edited
ConfigMap changes the pod template and kubectl apply rolls the pods (the files are subPath
mounts, which a running pod never sees change). Rewrites them in place, or with --check
only says which is stale (exit 1)."""
import hashlib, pathlib, re, sys

import yaml

here = pathlib.Path(__file__).resolve().parent / "kubernetes"
config = yaml.safe_load((here / "configmap.yaml").read_text())["data"]
daemonset = here / "daemonset.yaml"
text = daemonset.read_text()
stale = []
for key, annotation in (("eunomia.toml", "checksum/config"), ("rules.yaml", "checksum/rules")):
    digest = hashlib.sha256(config[key].encode()).hexdigest()
    pattern = re.compile(r"^(\s*%s:\s*)([0-9a-f]{64})\s*$" % re.escape(annotation), re.M)
    match = pattern.search(text)
    if not match:
        sys.exit(f"k8s-checksums: {daemonset} has no {annotation} annotation")
    if match.group(2) != digest:
        stale.append(annotation)
        text = pattern.sub(lambda m: m.group(1) + digest, text)
if "--check" in sys.argv[1:]:
    if stale:
        sys.exit("k8s-checksums: stale " + ", ".join(stale) + " (make k8s-checksums rewrites them)")
    sys.exit(0)
daemonset.write_text(text)
print("k8s-checksums: " + (", ".join(stale) + " rewritten" if stale else "up to date"))
