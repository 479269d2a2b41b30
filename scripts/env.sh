# Sourced by the scripts: the Go that scripts/install-deps installs comes
# first on PATH, then Go-installed tools.
export PATH="/usr/local/go/bin:$PATH"
PATH="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin:$PATH"
export PATH
