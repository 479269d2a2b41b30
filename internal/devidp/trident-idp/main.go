// Command trident-idp runs the test OpenID Provider of package idp. It reads
// its clients as JSON on standard input, listens on --listen (port 0 picks
// one), and prints "issuer <URL>" on standard output once it serves.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"

	idp "github.com/tridentmdm/trident/internal/devidp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	var cfg idp.Config
	if err := json.NewDecoder(os.Stdin).Decode(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "trident-idp: read the configuration from standard input:", err)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "trident-idp:", err)
		os.Exit(1)
	}
	issuer := "http://" + ln.Addr().String()
	h, err := idp.New(issuer, cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		fmt.Fprintln(os.Stderr, "trident-idp:", err)
		os.Exit(1)
	}
	fmt.Printf("issuer %s\n", issuer)
	if err := http.Serve(ln, h); err != nil {
		fmt.Fprintln(os.Stderr, "trident-idp:", err)
		os.Exit(1)
	}
}
