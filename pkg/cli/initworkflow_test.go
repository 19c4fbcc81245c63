package cli_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/evctl/evctl/pkg/control/sink/kafka/gcpsmfake"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
)

// buildEvctl builds ./cmd/evctl from this tree into a temporary directory and returns it.
func buildEvctl(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "evctl"), "github.com/evctl/evctl/cmd/evctl")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build evctl: %v\n%s", err, out)
	}
	return dir
}

// toolsBin is the module's .tools/bin, where scripts/install-tools.sh links the pinned buf.
func toolsBin(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", ".tools", "bin"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p, "buf")); err != nil {
		t.Fatalf("buf is not installed (run scripts/install-tools.sh): %v", err)
	}
	return p
}

func sh(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestInitWorkflowFirstRunFakeGitHubAPIFakeSecretManager is the first day of a repository made by `evctl init`,
// driven through the workflow init writes: its run: steps execute against two kfake clusters
// (staging's and prod's) and file:// stores outside the checkout (standing in for the gs://
// buckets), the PR comments go to a fake of GitHub's REST API and prod's team passwords to a
// fake of GCP Secret Manager's (neither has an emulator).
//
//  1. A pull request adding two events: check passes; both environments are planned and each
//     gets one comment; prod is blocked (a hand-made topic under its name), and its job still
//     posts the comment, then fails.
//  2. A second push to the pull request updates the same two comments (a human's comment that
//     quotes the marker is left alone).
//  3. The hand-made topic is adopted with evctl import; the merge plans both environments,
//     saves the plans as artifacts and applies exactly them, staging then prod; the team's
//     password comes from EVCTL_KAFKA_PASSWORD_MY_TEAM in staging and is generated into Secret
//     Manager in prod (init's default), nothing written under .evctl/credentials.
//     A plan afterwards finds nothing to do.
//  4. A second pull request adds a field to the prod contract: its comment shows that field
//     (read back from prod's published descriptor set), not two sha256s. No secret shows in
//     any log or comment.
func TestInitWorkflowFirstRunFakeGitHubAPIFakeSecretManager(t *testing.T) {
	bin := buildEvctl(t)
	tools := toolsBin(t)
	kc := kafkatest.Start(t)     // staging's cluster
	prodKC := kafkatest.Start(t) // prod's
	const token, teamPW = "ghs_faketoken0123456789", "team-password-Zq81"
	gh := newFakeGitHubAPI(t, "acme/contracts", token)
	sm := gcpsmfake.Start(t, "acme-prod", "")
	repo := t.TempDir()
	buckets := t.TempDir()
	evctl := filepath.Join(bin, "evctl")
	gitEnv := []string{"GIT_CONFIG_NOSYSTEM=1", "HOME=" + repo, "GIT_AUTHOR_NAME=dev", "GIT_AUTHOR_EMAIL=dev@example.com",
		"GIT_COMMITTER_NAME=dev", "GIT_COMMITTER_EMAIL=dev@example.com"}
	git := func(args ...string) string { return sh(t, repo, gitEnv, "git", args...) }
	ev := func(env []string, args ...string) string { return sh(t, repo, env, evctl, args...) }

	// The adopter's first commit: init, their values in place of the CHANGE-ME placeholders (a
	// kfake superuser speaks SCRAM-SHA-256), one prod event.
	git("init", "-q", "-b", "main")
	ev(nil, "init")
	cfgPath := filepath.Join(repo, "evctl.yaml")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "bigquery: {project: CHANGE-ME") {
			continue // the adopter has no BigQuery yet
		}
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		// Staging's team passwords come from EVCTL_KAFKA_PASSWORD_<TEAM>; prod keeps the
		// default of init, GCP Secret Manager (a fake of it here).
		if strings.Contains(line, "gcpsm://projects/CHANGE-ME-staging-project") {
			continue
		}
		line = strings.ReplaceAll(line, "gcpsm://projects/CHANGE-ME-prod-project", "gcpsm://projects/acme-prod")
		line = strings.ReplaceAll(line, "CHANGE-ME.staging.kafka.example.com:9092", kc.Addrs[0])
		line = strings.ReplaceAll(line, "CHANGE-ME.prod.kafka.example.com:9092", prodKC.Addrs[0])
		for _, env := range []string{"staging", "prod"} {
			line = strings.ReplaceAll(line, "gs://CHANGE-ME-"+env+"-bucket/", "file://"+filepath.Join(buckets, env)+"/")
		}
		lines = append(lines, strings.ReplaceAll(line, "SCRAM-SHA-512", "SCRAM-SHA-256"))
	}
	if err := os.WriteFile(cfgPath, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(lines, "\n"), "CHANGE-ME") {
		t.Fatalf("placeholders left:\n%s", strings.Join(lines, "\n"))
	}
	ev(nil, "new", "shop/order_placed", "--owner", "my_team/my_pod", "--field", "order_id:string:required")
	promote(t, filepath.Join(repo, "contracts", "shop", "order_placed.yaml"))
	ev(nil, "generate")
	git("add", "-A")
	git("commit", "-qm", "evctl init")
	git("update-ref", "refs/remotes/origin/main", "main")

	// Someone made prod's topic by hand before evctl.
	adm, prodAdm := admin(t, kc), admin(t, prodKC)
	if _, err := prodAdm.CreateTopic(context.Background(), 1, 1, nil, "prod.shop.order_placed.v1"); err != nil {
		t.Fatal(err)
	}

	// The pull request.
	git("checkout", "-qb", "add-cart")
	ev(nil, "new", "shop/cart_viewed", "--owner", "my_team/my_pod", "--field", "cart_id:string:required")
	ev(nil, "generate")
	git("add", "-A")
	git("commit", "-qm", "cart_viewed")
	gh.addComment("7", "octocat", "<!-- evctl-plan:staging --> quoting the bot")

	wf := filepath.Join(repo, ".github", "workflows", "evctl.yaml")
	r := newGHRunner(t, wf, repo, bin+string(os.PathListSeparator)+tools+string(os.PathListSeparator)+os.Getenv("PATH"),
		map[string]string{"GITHUB_API_URL": gh.srv.URL, "GITHUB_REPOSITORY": "acme/contracts", "EVCTL_BUF": filepath.Join(tools, "buf"), "EVCTL_GCPSM_ENDPOINT": sm.URL})
	secrets := map[string]string{
		"secrets.EVCTL_STAGING_KAFKA_USER": kafkatest.AdminUser, "secrets.EVCTL_STAGING_KAFKA_PASSWORD": kc.AdminPassword,
		"secrets.EVCTL_PROD_KAFKA_USER": kafkatest.AdminUser, "secrets.EVCTL_PROD_KAFKA_PASSWORD": prodKC.AdminPassword,
		"secrets.EVCTL_KAFKA_PASSWORD_MY_TEAM": teamPW,
		"vars.GCP_WORKLOAD_IDENTITY_PROVIDER":  "projects/1/locations/global/workloadIdentityPools/github/providers/github",
		"vars.GCP_SERVICE_ACCOUNT":             "evctl@acme.iam.gserviceaccount.com",
		"github.token":                         token, "github.base_ref": "main", "github.event.pull_request.number": "7",
	}
	prCtx := func(env string) map[string]string {
		c := map[string]string{"matrix.env": env, "github.event.pull_request.head.sha": strings.TrimSpace(git("rev-parse", "HEAD"))}
		for k, v := range secrets {
			c[k] = v
		}
		return c
	}
	var logs []string
	const prIf = "github.event_name == 'pull_request'"
	if res := r.runJob("check", prIf, prCtx("")); res.FailedStep != "" {
		t.Fatalf("check failed at %q (exit %d):\n%s", res.FailedStep, res.Code, res.Log)
	}
	pr := func(push int) map[string]int64 {
		ids := map[string]int64{}
		for _, env := range []string{"staging", "prod"} {
			res := r.runJob("plan-pr", prIf, prCtx(env))
			logs = append(logs, res.Log)
			switch {
			case env == "staging" && res.FailedStep != "":
				t.Fatalf("push %d: plan-pr staging failed at %q:\n%s", push, res.FailedStep, res.Log)
			case env == "prod" && (res.FailedStep != "Fail when the plan failed or is blocked" || res.Code != 1):
				t.Fatalf("push %d: plan-pr prod should fail in its last step with exit 1, after commenting; failed at %q exit %d:\n%s", push, res.FailedStep, res.Code, res.Log)
			}
		}
		var bot int
		for _, c := range gh.list("7") {
			for _, env := range []string{"staging", "prod"} {
				if c.User.Type == "Bot" && strings.HasPrefix(c.Body, "<!-- evctl-plan:"+env+" -->\n") {
					ids[env] = c.ID
					bot++
				}
			}
			if c.User.Type != "Bot" && c.Body != "<!-- evctl-plan:staging --> quoting the bot" {
				t.Errorf("push %d: the human's comment was changed: %q", push, c.Body)
			}
		}
		if bot != 2 || len(ids) != 2 {
			t.Fatalf("push %d: want one bot comment per environment, have %+v", push, gh.list("7"))
		}
		return ids
	}
	first := pr(1)
	comments := gh.list("7")
	for _, c := range comments {
		switch c.ID {
		case first["staging"]:
			if !strings.Contains(c.Body, "### evctl plan: `staging`") || !strings.Contains(c.Body, "staging.shop.cart_viewed.v1") {
				t.Errorf("staging comment:\n%s", c.Body)
			}
		case first["prod"]:
			if !strings.Contains(c.Body, "### evctl plan: `prod`") || !strings.Contains(c.Body, "**1** blocked") || !strings.Contains(c.Body, "prod.shop.order_placed.v1") {
				t.Errorf("prod comment does not show the blocked topic:\n%s", c.Body)
			}
		}
	}

	// A second push to the pull request: the same comments are updated.
	promote(t, filepath.Join(repo, "contracts", "shop", "cart_viewed.yaml"))
	git("commit", "-qam", "cart_viewed goes to prod")
	second := pr(2)
	if second["staging"] != first["staging"] || second["prod"] != first["prod"] || len(gh.list("7")) != 3 {
		t.Fatalf("the second push did not update the first comments: %v then %v; comments %+v", first, second, gh.list("7"))
	}
	var patches, posts int
	for _, c := range gh.callLog() {
		switch {
		case strings.HasPrefix(c, "PATCH /repos/acme/contracts/issues/comments/"):
			patches++
		case c == "POST /repos/acme/contracts/issues/7/comments":
			posts++
		}
	}
	if posts != 2 || patches != 2 {
		t.Errorf("GitHub saw %d creates and %d updates, want 2 and 2: %v", posts, patches, gh.callLog())
	}
	for _, c := range gh.list("7") {
		if c.ID == second["prod"] && (!strings.Contains(c.Body, "prod.shop.cart_viewed.v1") || !strings.Contains(c.Body, "commit "+strings.TrimSpace(git("rev-parse", "HEAD")))) {
			t.Errorf("the updated prod comment is not the second push's plan:\n%s", c.Body)
		}
	}

	// The platform team adopts the hand-made topic; then the merge.
	prodEnv := []string{"EVCTL_PROD_KAFKA_USER=" + kafkatest.AdminUser, "EVCTL_PROD_KAFKA_PASSWORD=" + prodKC.AdminPassword, "EVCTL_GCPSM_ENDPOINT=" + sm.URL}
	ev(prodEnv, "import", "--env", "prod", "kafka_topic", "prod.shop.order_placed.v1", "--event", "shop/order_placed")
	git("checkout", "-q", "main")
	git("merge", "-q", "--no-ff", "-m", "merge add-cart", "add-cart")
	pushCtx := func(env string) map[string]string {
		c := prCtx(env)
		delete(c, "github.event.pull_request.number")
		delete(c, "github.event.pull_request.head.sha")
		delete(c, "github.base_ref")
		return c
	}
	const pushIf = "github.event_name == 'push'"
	for _, env := range []string{"staging", "prod"} {
		res := r.runJob("plan", pushIf, pushCtx(env))
		logs = append(logs, res.Log)
		if res.FailedStep != "" {
			t.Fatalf("plan %s on main failed at %q:\n%s", env, res.FailedStep, res.Log)
		}
		if !strings.Contains(res.Summary, "### evctl plan: `"+env+"`") {
			t.Errorf("plan %s: the job summary lacks the plan:\n%s", env, res.Summary)
		}
	}
	for _, job := range []string{"apply-staging", "apply-prod"} {
		ctx := pushCtx("")
		if job == "apply-prod" {
			ctx["secrets.EVCTL_KAFKA_PASSWORD_MY_TEAM"] = "" // not set: prod keeps passwords in Secret Manager
		}
		res := r.runJob(job, "", ctx)
		logs = append(logs, res.Log)
		if res.FailedStep != "" {
			t.Fatalf("%s failed at %q:\n%s", job, res.FailedStep, res.Log)
		}
		if !strings.Contains(res.Log, "0 failed, 0 blocked") {
			t.Errorf("%s:\n%s", job, res.Log)
		}
		if _, err := os.Stat(filepath.Join(repo, ".evctl", "credentials")); err == nil {
			t.Errorf("%s wrote team passwords under .evctl/credentials on the runner", job)
		}
	}
	hidden := []string{kc.AdminPassword, prodKC.AdminPassword, teamPW, token}
	for env, a := range map[string]*kadm.Client{"staging": adm, "prod": prodAdm} {
		topics, err := a.ListTopics(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, topic := range []string{env + ".shop.order_placed.v1", env + ".shop.cart_viewed.v1"} {
			if !topics.Has(topic) {
				t.Errorf("topic %s missing after the applies (have %v)", topic, topics.Names())
			}
		}
		// The team logs in with the password from its secret, nothing else.
		addr, pw := kc.Addrs[0], teamPW
		if env == "prod" {
			stored := sm.Versions("evctl-prod-kafka-my_team")
			if len(stored) != 1 {
				t.Fatalf("prod's team password in Secret Manager: %d versions", len(stored))
			}
			addr, pw = prodKC.Addrs[0], stored[0]
			hidden = append(hidden, pw)
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.SASL(scram.Auth{User: "my_team", Pass: pw}.AsSha512Mechanism()))
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.Ping(context.Background()); err != nil {
			t.Errorf("%s: the team cannot log in with its password (EVCTL_KAFKA_PASSWORD_MY_TEAM in staging, Secret Manager in prod): %v", env, err)
		}
		cl.Close()
	}
	for _, env := range []string{"staging", "prod"} {
		vars := []string{"EVCTL_STAGING_KAFKA_USER=" + kafkatest.AdminUser, "EVCTL_STAGING_KAFKA_PASSWORD=" + kc.AdminPassword}
		if env == "prod" {
			vars = prodEnv
		}
		ev(vars, "plan", "--env", env, "--detailed-exitcode")
	}
	// A later pull request adds a field to the prod contract: its comment shows the field, not
	// two sha256s (the published set read back from prod's descriptor store).
	git("checkout", "-qb", "add-note")
	orderPath := filepath.Join(repo, "contracts", "shop", "order_placed.yaml")
	ob, err := os.ReadFile(orderPath)
	if err != nil {
		t.Fatal(err)
	}
	withNote := strings.Replace(string(ob), "sinks:\n", "        - name: note\n          type: string\n          number: 2\nsinks:\n", 1)
	if err := os.WriteFile(orderPath, []byte(withNote), 0o644); err != nil {
		t.Fatal(err)
	}
	ev(nil, "generate")
	git("commit", "-qam", "order_placed gets a note")
	git("update-ref", "refs/remotes/origin/main", "main")
	c := prCtx("prod")
	c["github.event.pull_request.number"] = "8"
	if res := r.runJob("plan-pr", prIf, c); res.FailedStep != "" {
		t.Fatalf("plan-pr prod of the second PR failed at %q:\n%s", res.FailedStep, res.Log)
	}
	if cs := gh.list("8"); len(cs) != 1 || !strings.Contains(cs[0].Body, "| update | descriptor | `shop/order_placed` | **+ field** `optional string note = 2` |") {
		t.Fatalf("the second PR's prod comment does not show the added field: %+v", cs)
	}
	for _, issue := range []string{"7", "8"} {
		for _, c := range gh.list(issue) {
			logs = append(logs, c.Body)
		}
	}
	for _, l := range logs {
		for _, secret := range hidden {
			if strings.Contains(l, secret) {
				t.Fatalf("a secret shows in a log or comment:\n%s", l)
			}
		}
	}
}

// promote moves an event scaffolded at stage staging to prod.
func promote(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "stage: staging", "stage: prod", 1)
	if s == string(b) {
		t.Fatalf("%s: no stage: staging", path)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
