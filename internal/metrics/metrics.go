// Package metrics holds Trident's Prometheus metrics: one registry per
// process, built by cmd/trident and handed to the parts that count. The
// services themselves know nothing of Prometheus: they take plain
// observer functions, which these metrics provide.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the process's counters and histograms.
type Metrics struct {
	reg *prometheus.Registry

	requests       *prometheus.CounterVec
	requestSeconds *prometheus.HistogramVec
	checkins       *prometheus.CounterVec
	commands       *prometheus.CounterVec
	jobSeconds     *prometheus.HistogramVec
	eventLag       prometheus.Histogram
}

// New makes the metrics, with Go runtime and process metrics beside them.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trident_http_requests_total",
		Help: "HTTP requests answered, by route pattern, method and status."}, []string{"route", "method", "code"})
	m.requestSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "trident_http_request_duration_seconds",
		Help: "Time to answer HTTP requests, by route pattern.", Buckets: prometheus.DefBuckets}, []string{"route"})
	m.checkins = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trident_device_requests_total",
		Help: "Device protocol requests, by platform, kind (checkin or command) and status."}, []string{"platform", "kind", "code"})
	m.commands = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trident_command_transitions_total",
		Help: "Commands entering each state."}, []string{"status"})
	m.jobSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "trident_job_duration_seconds",
		Help: "Time River jobs take, by kind and outcome.", Buckets: prometheus.DefBuckets}, []string{"kind", "outcome"})
	m.eventLag = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "trident_event_lag_seconds",
		Help:    "Time from an event's commit to its delivery to live subscribers.",
		Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}})
	m.reg.MustRegister(m.requests, m.requestSeconds, m.checkins, m.commands, m.jobSeconds, m.eventLag,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Request counts an answered HTTP request. route is the matched pattern
// (not the path, so tenants and ids do not multiply the series).
func (m *Metrics) Request(route, method string, code int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.requestSeconds.WithLabelValues(route).Observe(d.Seconds())
}

// DeviceRequest counts a device protocol request.
func (m *Metrics) DeviceRequest(platform, kind string, code int) {
	m.checkins.WithLabelValues(platform, kind, strconv.Itoa(code)).Inc()
}

// CommandStatus counts a command entering status.
func (m *Metrics) CommandStatus(status string) { m.commands.WithLabelValues(status).Inc() }

// Job records a River job's run.
func (m *Metrics) Job(kind, outcome string, d time.Duration) {
	m.jobSeconds.WithLabelValues(kind, outcome).Observe(d.Seconds())
}

// EventLag records how late an event reached live subscribers.
func (m *Metrics) EventLag(d time.Duration) { m.eventLag.Observe(d.Seconds()) }
