package api

import "embed"

//go:embed docsassets
var assets embed.FS
