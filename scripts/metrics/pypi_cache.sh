#!/usr/bin/env bash
# Shared by the metrics installers: fetches one pinned PyPI distribution file into ~/.cache/tgdm/wheels
# (so a fresh clone does not download it again) and checks its SHA-256. Source this file, then call
#   pypi_fetch <requirement> <file name> <sha256>
# which prints the cached path, or fails with a reason.

TGDM_WHEELS="${TGDM_CACHE:-$HOME/.cache/tgdm}/wheels"

pypi_fetch() {
  local req="$1" file="$2" sum="$3" path
  path="$TGDM_WHEELS/$file"
  mkdir -p "$TGDM_WHEELS"
  if [ -f "$path" ] && echo "$sum  $path" | sha256sum --check --status; then echo "$path"; return 0; fi
  local pip=()
  if python3 -m pip --version >/dev/null 2>&1; then pip=(python3 -m pip)
  elif command -v pip3 >/dev/null; then pip=(pip3)
  else echo "pypi_fetch: no pip found (install python3-pip) to download $req" >&2; return 1
  fi
  echo "pypi_fetch: downloading $req from PyPI" >&2
  local tmp
  tmp=$(mktemp -d)
  if ! "${pip[@]}" download --quiet --no-deps --dest "$tmp" "$req" >&2; then
    rm -rf "$tmp"; echo "pypi_fetch: pip could not download $req (offline?)" >&2; return 1
  fi
  if [ ! -f "$tmp/$file" ]; then
    echo "pypi_fetch: expected $file from $req, got: $(ls "$tmp")" >&2; rm -rf "$tmp"; return 1
  fi
  if ! echo "$sum  $tmp/$file" | sha256sum --check --status; then
    echo "pypi_fetch: $file does not have the expected SHA-256 $sum" >&2; rm -rf "$tmp"; return 1
  fi
  mv "$tmp/$file" "$path.tmp" && mv "$path.tmp" "$path"
  rm -rf "$tmp"
  echo "$path"
}

# True when every "sum  path" line given on stdin checks out.
all_intact() { sha256sum --check --status 2>/dev/null; }
