// Package web holds the page the frontend serves: plain HTML, CSS and JavaScript
// embedded into the binary, so the service ships as one file with no Node build
// step and no third-party CDN the browser would have to reach.
package web

import (
	"embed"
	"io/fs"
)

//go:embed index.html app.js app.css
var files embed.FS

// Files returns the page's assets rooted at the page's own directory.
func Files() fs.FS { return files }
