package msp

import (
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/events"
)

// Channel is the NOTIFY channel a new rollup is announced on (by
// tenant_rollups' trigger): "<msp id>:<tenant id>".
const Channel = "trident_msp"

// Changes tells this process's open consoles that one of their MSP's
// rollups changed. Register Changes.Handler on a Listener for Channel.
// A console's signal is coalesced: however many rollups change before it
// reads, it wakes once, and each MSP's Version says which change it is.
type Changes struct {
	mu      sync.Mutex
	subs    map[uuid.UUID]map[chan struct{}]struct{}
	version map[uuid.UUID]uint64
}

// NewChanges returns an empty Changes.
func NewChanges() *Changes {
	return &Changes{subs: map[uuid.UUID]map[chan struct{}]struct{}{}, version: map[uuid.UUID]uint64{}}
}

// Handler is what the Listener calls for Channel. A reconnect wakes
// every console: a notification may have been missed meanwhile.
func (c *Changes) Handler() events.Handler {
	return events.Handler{Notify: c.notified, OnConnect: c.everyone}
}

func (c *Changes) notified(payload string) {
	m, _, _ := strings.Cut(payload, ":")
	id, err := uuid.Parse(m)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wakeLocked(id)
}

func (c *Changes) everyone() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.subs {
		c.wakeLocked(id)
	}
}

func (c *Changes) wakeLocked(id uuid.UUID) {
	c.version[id]++
	for ch := range c.subs[id] {
		select {
		case ch <- struct{}{}:
		default: // already woken, not yet read
		}
	}
}

// Subscribe returns a channel that receives when a rollup of msp
// changes, and the function that ends the subscription.
func (c *Changes) Subscribe(msp uuid.UUID) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	c.mu.Lock()
	if c.subs[msp] == nil {
		c.subs[msp] = map[chan struct{}]struct{}{}
	}
	c.subs[msp][ch] = struct{}{}
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.subs[msp], ch)
		if len(c.subs[msp]) == 0 {
			delete(c.subs, msp)
		}
	}
}

// Version counts msp's changes seen by this process: the same number
// means the same console.
func (c *Changes) Version(msp uuid.UUID) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version[msp]
}
