// Reads a Delta table with DuckDB, independently of evctl: replays _delta_log/*.json (add and
// remove by path) to find the live files, exposes them as view t (read_parquet with hive
// partitioning, so partition columns come from the paths; tf adds each row's filename) and prints the rows of the SQL query
// given as the second argument as JSON lines. DuckDB's delta extension cannot be downloaded
// here, so the log replay is this script's own.
//
//   DUCKDB_NODE_DIR=.tools/duckdb node readdelta.cjs <table dir> "<sql over t>"
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

async function main() {
  const [table, sql] = process.argv.slice(2);
  const dir = process.env.DUCKDB_NODE_DIR;
  if (!dir) throw new Error('DUCKDB_NODE_DIR is not set');
  const duckdb = createRequire(path.join(path.resolve(dir), 'package.json'))('@duckdb/node-api');
  const logDir = path.join(table, '_delta_log');
  const commits = fs.readdirSync(logDir).filter((f) => /^\d{20}\.json$/.test(f)).sort();
  const live = new Map();
  for (const f of commits) {
    for (const line of fs.readFileSync(path.join(logDir, f), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const a = JSON.parse(line);
      if (a.add) live.set(a.add.path, a.add);
      if (a.remove) live.delete(a.remove.path);
    }
  }
  const files = [...live.keys()].map((p) => path.join(table, decodeURIComponent(p)));
  const conn = await (await duckdb.DuckDBInstance.create(':memory:')).connect();
  if (files.length === 0) {
    process.stdout.write(JSON.stringify({ files: 0 }) + '\n');
    return;
  }
  const list = files.map((f) => `'${f.replace(/'/g, "''")}'`).join(',');
  await conn.run(`CREATE VIEW t AS SELECT * FROM read_parquet([${list}], hive_partitioning = true, union_by_name = true)`);
  // tf: the same rows with the data file each came from (per-file checks such as statistics).
  await conn.run(`CREATE VIEW tf AS SELECT * FROM read_parquet([${list}], hive_partitioning = true, union_by_name = true, filename = true)`);
  const reader = await conn.runAndReadAll(sql);
  for (const row of reader.getRowObjectsJson()) {
    process.stdout.write(JSON.stringify(row) + '\n');
  }
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + '\n');
  process.exit(1);
});
