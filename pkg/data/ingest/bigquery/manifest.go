package bigquery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	bq "cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"

	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// Exactly once in batch mode. A load job appends its files atomically, but the Kafka offsets
// are committed after it, so a crash between the two would load the same records again. The
// staging location therefore keeps, per table, a manifest for each load: written before the
// job is inserted, it names the job (an ID derived from the table and the offset ranges it
// loads), the staged files and, per partition, the offsets those files hold. The sink is then
// the source of truth for positions, as Delta's txn actions are:
//
//   - Assigned reads the manifests covering the assigned partitions and settles each: a job
//     that is DONE without error is loaded (its files are deleted), a job that failed is
//     forgotten (manifest deleted, the records are re-read), and a job that does not exist (the
//     worker died before inserting it) is inserted now, with the same ID, from the files the
//     manifest lists. The worker starts each partition after the highest offset a loaded
//     manifest holds, whatever offset the group committed.
//   - Before inserting, load looks the job up by its ID (jobs.get): a retry after a lost
//     answer waits for the existing job instead of inserting a second one. Real BigQuery also
//     refuses a second job with the same ID (409); the emulator does not (it loads the files
//     again and only then fails to record the job), so the lookup is what prevents a duplicate.
//   - A loaded manifest is deleted once newer loaded manifests hold higher offsets for every
//     partition it covers, so for each partition the newest one survives: a restart never
//     starts below the committed offset.

// manifestDir is the folder of a table's manifests under the staging location.
const manifestDir = "_manifests"

// offsetRange is the records of one partition a load holds: offsets First to Next-1 (some may
// have gone to the DLQ instead of the table).
type offsetRange struct {
	First int64 `json:"first"`
	Next  int64 `json:"next"`
}

// manifest is one load job, written before it is inserted.
type manifest struct {
	JobID   string                `json:"job_id"`
	Table   string                `json:"table"` // project.dataset.table
	Topic   string                `json:"topic"`
	Files   []string              `json:"files"` // staging keys
	Offsets map[int32]offsetRange `json:"offsets"`
	Written time.Time             `json:"written"`
	key     string
}

// loadJobID derives the job's ID from the group, the table, the offset ranges and the attempt
// (bumped after a job failed for good): the same records retried after a lost answer get the
// same ID.
func loadJobID(group, table string, offsets map[int32]offsetRange, attempt int) string {
	parts := make([]int32, 0, len(offsets))
	for p := range offsets {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	var b strings.Builder
	fmt.Fprintf(&b, "%s\x00%s\x00%d", group, table, attempt)
	for _, p := range parts {
		fmt.Fprintf(&b, "\x00%d:%d-%d", p, offsets[p].First, offsets[p].Next)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return "evctl_load_" + hex.EncodeToString(sum[:16])
}

func (h *BatchHandler) tablePrefix(t *batchTable) string {
	return strings.ReplaceAll(h.cfg.Group, "/", "_") + "/" + t.cfg.Table + "/"
}

func (h *BatchHandler) manifestKey(t *batchTable, jobID string) string {
	return h.tablePrefix(t) + manifestDir + "/" + jobID + ".json"
}

func (h *BatchHandler) uri(key string) string {
	return strings.TrimSuffix(h.cfg.StagingURL, "/") + "/" + key
}

// decodeManifest reads a manifest and checks what settling it relies on: a job ID evctl makes,
// files to load, and offset ranges that are ranges.
func decodeManifest(b []byte) (*manifest, error) {
	m := &manifest{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("ingest bigquery: load manifest: %w", err)
	}
	if !strings.HasPrefix(m.JobID, "evctl_load_") || len(m.JobID) > 1024 {
		return nil, fmt.Errorf("ingest bigquery: load manifest: job_id %q is not an evctl load job", m.JobID)
	}
	if len(m.Files) == 0 || len(m.Offsets) == 0 {
		return nil, errors.New("ingest bigquery: load manifest: no files or no offsets")
	}
	for _, f := range m.Files {
		if f == "" {
			return nil, errors.New("ingest bigquery: load manifest: an empty file key")
		}
	}
	for p, r := range m.Offsets {
		if p < 0 || r.First < 0 || r.Next <= r.First {
			return nil, fmt.Errorf("ingest bigquery: load manifest: partition %d: offsets %d..%d are not a range", p, r.First, r.Next)
		}
	}
	return m, nil
}

func (h *BatchHandler) writeManifest(ctx context.Context, m *manifest) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = h.cfg.Staging.Put(ctx, m.key, b, blob.PutOpts{})
	return err
}

// manifests reads a table's manifests. One deleted between the listing and the read is skipped.
func (h *BatchHandler) manifests(ctx context.Context, t *batchTable) ([]*manifest, error) {
	keys, err := h.cfg.Staging.List(ctx, h.tablePrefix(t)+manifestDir+"/")
	if err != nil {
		return nil, err
	}
	var out []*manifest
	for _, k := range keys {
		b, _, err := h.cfg.Staging.Get(ctx, k)
		if errors.Is(err, blob.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		m, err := decodeManifest(b)
		if err != nil {
			// Never written half (Put is atomic): not ours. Left alone, and said so.
			h.log.Warn("bigquery: unreadable load manifest left in place", "key", k, "err", err)
			continue
		}
		m.key = k
		out = append(out, m)
	}
	return out, nil
}

// Assigned settles the manifests that cover the assigned partitions and returns, for each
// partition a loaded manifest covers, the offset after the last record it loaded.
func (h *BatchHandler) Assigned(ctx context.Context, parts []worker.TopicPartition) (map[worker.TopicPartition]int64, error) {
	byTopic := map[string][]int32{}
	for _, tp := range parts {
		byTopic[tp.Topic] = append(byTopic[tp.Topic], tp.Partition)
	}
	pos := map[worker.TopicPartition]int64{}
	for _, topic := range h.topicsSorted() {
		ps := byTopic[topic]
		if len(ps) == 0 {
			continue
		}
		t := h.tables[topic]
		ms, err := h.manifests(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("ingest bigquery: %s: read load manifests: %w", t.cfg.Event, err)
		}
		var loaded []*manifest
		for _, m := range ms {
			if !m.covers(ps) {
				continue // another worker's partitions: settled by their owner
			}
			ok, err := h.settle(ctx, t, m)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			loaded = append(loaded, m)
			for _, p := range ps {
				if r, in := m.Offsets[p]; in && r.Next > pos[worker.TopicPartition{Topic: topic, Partition: p}] {
					pos[worker.TopicPartition{Topic: topic, Partition: p}] = r.Next
				}
			}
		}
		h.collect(ctx, loaded, loaded)
	}
	return pos, nil
}

func (m *manifest) covers(ps []int32) bool {
	for _, p := range ps {
		if _, ok := m.Offsets[p]; ok {
			return true
		}
	}
	return false
}

// settle brings a manifest's job to an end: true when its rows are in the table, false when
// they are not (the manifest is deleted and the records will be read again).
func (h *BatchHandler) settle(ctx context.Context, t *batchTable, m *manifest) (bool, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
	defer cancel()
	job, err := h.lookupJob(ctx, m.JobID)
	if err != nil {
		return false, fmt.Errorf("ingest bigquery: %s: look up load job %s: %w", t.cfg.Event, m.JobID, err)
	}
	if job == nil {
		// The worker that wrote the manifest died before the job existed. Insert it now under
		// the same ID if its files are all still staged; otherwise it can never run.
		for _, k := range m.Files {
			if _, _, err := h.cfg.Staging.Get(ctx, k); errors.Is(err, blob.ErrNotExist) {
				h.log.Warn("bigquery: load manifest whose job never ran and whose files are gone; its records are read again", "job", m.JobID, "file", k)
				return false, h.dropManifest(ctx, m)
			} else if err != nil {
				return false, fmt.Errorf("ingest bigquery: %s: staged file %s: %w", t.cfg.Event, k, err)
			}
		}
		h.log.Info("bigquery: inserting the load job a stopped worker staged", "event", t.cfg.Event, "job", m.JobID, "files", len(m.Files))
		if job, err = h.insertJob(ctx, t, m); err != nil {
			return false, fmt.Errorf("ingest bigquery: %s: load job %s: %w", t.cfg.Event, m.JobID, err)
		}
	}
	status, err := job.Wait(ctx)
	if err != nil {
		return false, fmt.Errorf("ingest bigquery: %s: load job %s: %w", t.cfg.Event, m.JobID, err)
	}
	if status.Err() != nil {
		h.log.Warn("bigquery: a stopped worker's load job failed; its records are read again", "job", m.JobID, "err", status.Err())
		return false, h.dropManifest(ctx, m)
	}
	h.deleteFiles(ctx, m.Files)
	return true, nil
}

// lookupJob is jobs.get: nil (no error) when no job has the ID.
func (h *BatchHandler) lookupJob(ctx context.Context, id string) (*bq.Job, error) {
	job, err := h.cfg.Client.JobFromIDLocation(ctx, id, "")
	var gerr *googleapi.Error
	if errors.As(err, &gerr) && gerr.Code == http.StatusNotFound {
		return nil, nil
	}
	return job, err
}

// insertJob inserts the manifest's load job. A 409 (real BigQuery: the ID exists, inserted by
// an attempt whose answer was lost) is that job.
func (h *BatchHandler) insertJob(ctx context.Context, t *batchTable, m *manifest) (*bq.Job, error) {
	uris := make([]string, len(m.Files))
	for i, k := range m.Files {
		uris[i] = h.uri(k)
	}
	ref := bq.NewGCSReference(uris...)
	ref.SourceFormat = bq.Parquet
	ref.Schema = toBQSchema(t.cfg.Schema)
	l := h.cfg.Client.DatasetInProject(t.cfg.Project, t.cfg.Dataset).Table(t.cfg.Table).LoaderFrom(ref)
	l.JobID = m.JobID
	l.WriteDisposition = bq.WriteAppend
	l.CreateDisposition = bq.CreateNever
	job, err := l.Run(ctx)
	var gerr *googleapi.Error
	if errors.As(err, &gerr) && gerr.Code == http.StatusConflict {
		return h.cfg.Client.JobFromIDLocation(ctx, m.JobID, "")
	}
	return job, err
}

func (h *BatchHandler) dropManifest(ctx context.Context, m *manifest) error {
	if err := h.cfg.Staging.Delete(ctx, m.key, ""); err != nil && !errors.Is(err, blob.ErrNotExist) {
		return fmt.Errorf("ingest bigquery: delete load manifest %s: %w", m.key, err)
	}
	return nil
}

func (h *BatchHandler) deleteFiles(ctx context.Context, keys []string) {
	for _, k := range keys {
		if err := h.cfg.Staging.Delete(ctx, k, ""); err != nil && !errors.Is(err, blob.ErrNotExist) {
			h.log.Warn("staged file not deleted (a bucket lifecycle rule may remove it)", "key", k, "err", err)
		}
	}
}

// collect deletes the loaded manifests that newer loaded ones supersede for every partition
// they cover, so each partition keeps the one with its highest offset. loaded are manifests
// known to be loaded; the status of the others in all is looked up (jobs.get), and those not
// loaded are never touched here (settle owns them). Failures are logged only: a manifest left
// behind is read again and superseded later.
func (h *BatchHandler) collect(ctx context.Context, all, loaded []*manifest) {
	known := map[string]bool{}
	for _, m := range loaded {
		known[m.key] = true
	}
	for _, m := range all {
		if known[m.key] {
			continue
		}
		job, err := h.lookupJob(ctx, m.JobID)
		if err != nil || job == nil {
			h.log.Debug("bigquery: load manifest kept (job not found)", "key", m.key, "err", err)
			continue
		}
		if st := job.LastStatus(); st != nil && st.Done() && st.Err() == nil {
			loaded = append(loaded, m)
		} else {
			h.log.Debug("bigquery: load manifest kept (job not loaded)", "key", m.key, "status", st)
		}
	}
	top := map[int32]int64{}
	for _, m := range loaded {
		for p, r := range m.Offsets {
			top[p] = max(top[p], r.Next)
		}
	}
	for _, m := range loaded {
		superseded := true
		for p, r := range m.Offsets {
			if r.Next >= top[p] {
				superseded = false
				break
			}
		}
		if !superseded {
			h.log.Debug("bigquery: load manifest kept (newest for a partition)", "key", m.key, "offsets", m.Offsets, "top", top)
			continue
		}
		if err := h.dropManifest(ctx, m); err != nil {
			h.log.Warn("bigquery: superseded load manifest not deleted", "key", m.key, "err", err)
		}
	}
}
