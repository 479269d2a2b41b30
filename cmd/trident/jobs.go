package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tridentmdm/trident/migrations"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/tenancy"
	"github.com/tridentmdm/trident/workers"
)

// runJobs shows operators River's queues and the jobs that failed: those
// waiting to retry and those given up on.
func runJobs(ctx context.Context, args []string, stdout io.Writer) error {
	var c common
	var state string
	var limit int
	fs := flag.NewFlagSet("jobs", flag.ContinueOnError)
	c.register(fs)
	fs.StringVar(&state, "state", "retryable,discarded", "comma-separated job states to list: available, scheduled, running, retryable, discarded, cancelled, completed")
	fs.IntVar(&limit, "limit", 50, "at most this many jobs")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return usageError{err}
	}
	var states []rivertype.JobState
	for _, s := range strings.Split(state, ",") {
		switch st := rivertype.JobState(strings.TrimSpace(s)); st {
		case rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStateRunning, rivertype.JobStateRetryable,
			rivertype.JobStateDiscarded, rivertype.JobStateCancelled, rivertype.JobStateCompleted:
			states = append(states, st)
		default:
			return usagef("--state: %q is not a job state", s)
		}
	}
	if limit < 1 || limit > 10000 {
		return usagef("--limit %d: want 1 to 10000", limit)
	}
	log, _ := c.logger(os.Stderr)
	dbs, err := c.connect(ctx, "", false, log)
	if err != nil {
		return err
	}
	defer dbs.release()
	db, err := tenancy.Open(ctx, dbs.app, dbs.reader)
	if err != nil {
		return err
	}
	defer db.Close()
	client, err := workers.New(workers.Deps{DB: db, Events: events.NewStore(db), Log: log},
		workers.Config{Schema: migrations.RiverSchema, EventRetention: time.Hour}, false)
	if err != nil {
		return err
	}

	queues, err := client.QueueList(ctx, river.NewQueueListParams().First(100))
	if err != nil {
		return fmt.Errorf("list queues: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "QUEUE\tPAUSED\tUPDATED")
	for _, q := range queues.Queues {
		fmt.Fprintf(tw, "%s\t%v\t%s\n", q.Name, q.PausedAt != nil, q.UpdatedAt.Format(time.RFC3339))
	}
	tw.Flush()

	jobs, err := client.JobList(ctx, river.NewJobListParams().States(states...).First(limit))
	if err != nil {
		return fmt.Errorf("list jobs: %w", err)
	}
	fmt.Fprintln(stdout)
	tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSTATE\tTENANT\tATTEMPTS\tWHEN\tLAST ERROR")
	for _, j := range jobs.Jobs {
		var a struct {
			TenantID string `json:"tenant_id"`
		}
		_ = json.Unmarshal(j.EncodedArgs, &a)
		last := ""
		if n := len(j.Errors); n > 0 {
			last = j.Errors[n-1].Error
			if len(last) > 80 {
				last = last[:80] + "..."
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", j.ID, j.Kind, j.State, a.TenantID, j.Attempt, j.MaxAttempts,
			j.ScheduledAt.Format(time.RFC3339), strings.ReplaceAll(last, "\n", " "))
	}
	return tw.Flush()
}
