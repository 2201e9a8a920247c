/**
 * The dashboard page: plain HTML, CSS and a little script, no build step.
 * It listens to `/events` (server-sent events, one snapshot per second and on
 * every membership change) and keeps a rolling 2-minute uPlot chart of each
 * stage's throughput and workers. Tasks: counts by status (all, and per open
 * session) and the tasks running now.
 */
export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gridd dashboard</title>
<link rel="stylesheet" href="/uplot.min.css">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2330; background: #f7f8fa; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; } h2 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
  .muted { color: #6b7385; } code { font-size: 12px; }
  table { border-collapse: collapse; background: #fff; box-shadow: 0 1px 2px #0001; }
  th, td { padding: .3rem .7rem; text-align: left; border-bottom: 1px solid #e6e8ee; }
  th { font-weight: 600; background: #eef0f5; }
  .state { font-weight: 600; } .alive { color: #1a7f37; } .suspect { color: #b07d00; } .failed { color: #c62828; } .left { color: #6b7385; }
  .high { color: #c62828; font-weight: 600; } .even { color: #1a7f37; } .low { color: #1f6feb; }
  #status.down { color: #c62828; }
  .charts { display: flex; flex-wrap: wrap; gap: 1rem; }
</style>
</head>
<body>
<h1>gridd</h1>
<div class="muted">node <code id="self">…</code> · <span id="status">connecting…</span></div>
<h2>Members <span class="muted" id="member-count"></span></h2>
<table id="members"><thead><tr><th>member</th><th>role</th><th>state</th><th>cpu</th><th>workers</th><th>by stage</th><th>weight</th><th>strategy</th></tr></thead><tbody></tbody></table>
<h2>Pipelines</h2>
<div id="pipelines" class="muted">none running on this node</div>
<div class="charts" id="charts"></div>
<h2>Tasks <span class="muted" id="task-summary"></span></h2>
<table id="task-counts"><thead><tr><th></th><th>queued</th><th>dispatched</th><th>running</th><th>completed</th><th>failed</th><th>timeout</th><th>cancelled</th><th>retries</th></tr></thead><tbody></tbody></table>
<h3>Sessions</h3>
<table id="sessions"><thead><tr><th>session</th><th>queued</th><th>dispatched</th><th>running</th><th>completed</th><th>failed</th><th>timeout</th><th>cancelled</th><th>retries</th></tr></thead><tbody></tbody></table>
<h3>Running <span class="muted" id="running-count"></span></h3>
<table id="running-tasks"><thead><tr><th>task</th><th>session</th><th>module</th><th>agent</th><th>attempt</th><th>running for</th><th>progress</th></tr></thead><tbody></tbody></table>
<h2>Schedules</h2>
<table id="schedules"><thead><tr><th>schedule</th><th>when</th><th>task</th><th>overlap</th><th>next run</th><th>last tick</th><th>fired by</th></tr></thead><tbody></tbody></table>
<h2>Deployments</h2>
<table id="deployments"><thead><tr><th>deployment</th><th>version</th><th>state</th><th>owner</th><th>token</th><th>stages</th><th>processed</th></tr></thead><tbody></tbody></table>
<script src="/uplot.iife.min.js"></script>
<script>
const WINDOW_S = 120
const series = new Map() // "pipeline/stage" -> { t: [], rate: [], workers: [], chart }
const $ = id => document.getElementById(id)
const esc = s => String(s).replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]))
const short = id => id.slice(0, 10) + '…' + id.slice(-4)

function drawMembers (snap) {
  $('self').textContent = snap.self
  $('member-count').textContent = snap.members.filter(m => m.state === 'alive').length + ' alive of ' + snap.members.length
  $('members').tBodies[0].innerHTML = snap.members.map(m => '<tr data-id="' + esc(m.id) + '" data-state="' + esc(m.state) + '">' +
    '<td title="' + esc(m.id) + '"><code>' + esc(short(m.id)) + '</code>' + (m.self ? ' (this node)' : '') + '</td>' +
    '<td>' + esc(m.role) + '</td><td class="state ' + esc(m.state) + '">' + esc(m.state) + '</td>' +
    '<td>' + (m.role === 'agent' ? Math.round(m.cpu * 100) + '%' : '–') + '</td>' +
    '<td>' + (m.role === 'agent' ? m.workers + ' / ' + m.maxWorkers : '–') + '</td>' +
    '<td>' + (Object.entries(m.stages).map(([s, n]) => esc(s) + ' ' + n).join(', ') || '–') + '</td>' +
    '<td>' + m.weight + '</td><td>' + esc(m.strategy) + '</td></tr>').join('')
}

function drawPipelines (snap) {
  if (snap.pipelines.length === 0) { $('pipelines').className = 'muted'; $('pipelines').textContent = 'none running on this node'; return }
  $('pipelines').className = ''
  $('pipelines').innerHTML = snap.pipelines.map(p => '<h3>' + esc(p.name) + '</h3><table class="pipeline"><thead><tr><th>stage</th><th>workers</th><th>arrival/s</th><th>μ per worker/s</th><th>queued</th><th>in flight</th><th>window</th><th>pressure</th></tr></thead><tbody>' +
    p.stages.map(s => '<tr data-stage="' + esc(s.name) + '"><td>' + esc(s.name) + '</td><td>' + s.workers + (s.unplaceable != null ? ' <span class="unplaceable high" title="' + esc(s.unplaceable) + '">unplaceable: ' + esc(s.unplaceable) + '</span>' : '') + '</td><td>' + s.arrivalRate + '</td><td>' + s.processingRate + '</td><td>' + s.queued + '</td><td>' + s.inFlight + '</td><td>' + s.window + '</td><td class="' + esc(s.pressure) + '">' + esc(s.pressure) + '</td></tr>').join('') +
    '</tbody></table>').join('')
  const t = snap.at / 1000
  for (const p of snap.pipelines) for (const s of p.stages) {
    const key = p.name + '/' + s.name
    let entry = series.get(key)
    if (entry == null) {
      entry = { t: [], rate: [], workers: [] }
      const box = document.createElement('div')
      $('charts').appendChild(box)
      const fromZero = (u, min, max) => [0, Math.max(1, max * 1.15)]
      entry.chart = new uPlot({ title: key + ': items/s and workers', width: 520, height: 220,
        scales: { x: { time: true }, y: { range: fromZero }, w: { range: fromZero } },
        series: [{}, { label: 'arrival/s', stroke: '#1f6feb' }, { label: 'workers', stroke: '#c62828', scale: 'w' }],
        axes: [{}, { label: 'items/s' }, { side: 1, scale: 'w', label: 'workers', grid: { show: false } }] }, [[], [], []], box)
      series.set(key, entry)
    }
    entry.t.push(t); entry.rate.push(s.arrivalRate); entry.workers.push(s.workers)
    while (entry.t.length > 0 && entry.t[0] < t - WINDOW_S) { entry.t.shift(); entry.rate.shift(); entry.workers.shift() }
    entry.chart.setData([entry.t, entry.rate, entry.workers])
  }
}

const STATUSES = ['queued', 'dispatched', 'running', 'completed', 'failed', 'timeout', 'cancelled', 'retries']
const countCells = counts => STATUSES.map(s => '<td data-status="' + s + '">' + counts[s] + '</td>').join('')

function drawTasks (snap) {
  const t = snap.tasks
  const names = new Map(t.sessions.map(s => [s.id, s.name]))
  $('task-summary').textContent = t.sessionCount + (t.sessionCount === 1 ? ' open session' : ' open sessions')
  // open tasks as they are now, final ones counted since the node started (a closed session's stay counted here)
  $('task-counts').tBodies[0].innerHTML = '<tr data-row="all"><td>all, since start</td>' + countCells({ ...t.open, ...t.totals, retries: t.retries }) + '</tr>'
  $('sessions').tBodies[0].innerHTML = t.sessions.map(s => '<tr data-session="' + esc(s.id) + '"><td title="' + esc(s.id) + '">' + esc(s.name) + (s.closed ? ' <span class="muted">(closed)</span>' : '') + '</td>' + countCells(s.counts) + '</tr>').join('')
  $('running-count').textContent = t.open.running > t.running.length ? '(' + t.running.length + ' of ' + t.open.running + ' shown)' : ''
  $('running-tasks').tBodies[0].innerHTML = t.running.length === 0
    ? '<tr><td colspan="7" class="muted">none</td></tr>'
    : t.running.map(r => '<tr data-task="' + esc(r.id) + '"><td title="' + esc(r.id) + '"><code>' + esc(short(r.id.split('/').pop())) + '</code></td>' +
      '<td>' + esc(names.get(r.session) ?? short(r.session)) + '</td><td title="' + esc(r.module) + '">' + esc(r.module.split('/').pop()) + '</td>' +
      '<td>' + (r.agent ? '<code title="' + esc(r.agent) + '">' + esc(short(r.agent)) + '</code>' : '–') + '</td><td>' + r.attempts + '</td>' +
      '<td>' + (r.startedAt ? ((snap.at - r.startedAt) / 1000).toFixed(1) + ' s' : '–') + '</td>' +
      '<td class="progress">' + (r.progress === undefined ? '–' : esc(JSON.stringify(r.progress).slice(0, 80))) + '</td></tr>').join('')
}

function drawSchedules (snap) {
  const time = ms => ms == null ? '–' : new Date(ms).toLocaleString()
  $('schedules').tBodies[0].innerHTML = (snap.schedules || []).map(s => '<tr data-id="' + esc(s.id) + '" data-next="' + (s.nextRunAt ?? '') + '">' +
    '<td>' + esc(s.id) + '</td><td><code>' + esc(s.when) + '</code></td><td>' + esc(s.task) + '</td><td>' + esc(s.overlap) + '</td>' +
    '<td class="next">' + (s.paused ? '<span class="muted">paused</span>' : esc(time(s.nextRunAt))) + '</td><td>' + esc(time(s.lastTickAt)) + '</td>' +
    '<td>' + (s.holder != null ? '<code title="' + esc(s.holder) + '">' + esc(short(s.holder)) + '</code>' : '–') + '</td></tr>').join('') ||
    '<tr><td colspan="7" class="muted">none</td></tr>'
}

function drawDeployments (snap) {
  $('deployments').tBodies[0].innerHTML = (snap.deployments || []).map(d => '<tr data-name="' + esc(d.name) + '" data-owner="' + esc(d.owner ?? '') + '">' +
    '<td>' + esc(d.name) + '</td><td>' + d.version + '</td><td' + (d.error ? ' title="' + esc(d.error) + '"' : '') + '>' + esc(d.state) + '</td>' +
    '<td>' + (d.owner != null ? '<code title="' + esc(d.owner) + '">' + esc(short(d.owner)) + '</code>' : '–') + '</td><td>' + (d.token ?? '–') + '</td>' +
    '<td>' + esc(d.stages.join(' → ')) + '</td><td>' + esc(d.processed.join(' / ') || '–') + '</td></tr>').join('') ||
    '<tr><td colspan="7" class="muted">none</td></tr>'
}

const events = new EventSource('/events')
events.addEventListener('snapshot', e => {
  const snap = JSON.parse(e.data)
  $('status').textContent = 'live, updated ' + new Date(snap.at).toLocaleTimeString(); $('status').className = ''
  drawMembers(snap); drawPipelines(snap); drawTasks(snap); drawSchedules(snap); drawDeployments(snap)
})
events.onerror = () => { $('status').textContent = 'disconnected, retrying…'; $('status').className = 'down' }
</script>
</body>
</html>
`
