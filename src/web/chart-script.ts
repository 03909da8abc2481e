// The browser side of the page: draws "renewals per host per day" with uPlot
// from the JSON page.ts embeds (the same document GET /api/v1/renewals/daily
// answers). Kept as text because it runs in the browser, not in Node; plain
// ES2017, no build step.
export const RENEWALS_CHART_SCRIPT = `'use strict';
(function () {
  var source = document.getElementById('renewals-daily');
  var container = document.getElementById('renewals-chart');
  if (!source || !container || typeof uPlot === 'undefined') return;
  var daily = JSON.parse(source.textContent);
  if (daily.hosts.length === 0) return;
  var colours = ['#1f6feb', '#d97706', '#059669', '#9333ea', '#dc2626', '#0891b2', '#65a30d', '#db2777'];
  var days = daily.days.map(function (day) { return Date.parse(day + 'T00:00:00Z') / 1000; });
  var bars = uPlot.paths.bars({ size: [0.7, 18] });
  // Stacked, so that every host stays visible on a day several renewed: host i's bar reaches the sum of
  // hosts i..n-1 and is drawn before the shorter ones that sit on it. The legend shows each host's own count.
  var stacked = [];
  var running = days.map(function () { return 0; });
  for (var k = daily.hosts.length - 1; k >= 0; k--) {
    running = running.map(function (sum, d) { return sum + (daily.hosts[k].renewals[d] || 0); });
    stacked[k] = running;
  }
  var series = [{ label: 'day (UTC)' }].concat(daily.hosts.map(function (h, i) {
    var colour = colours[i % colours.length];
    return {
      label: h.host, stroke: colour, fill: colour, width: 1, paths: bars, points: { show: false },
      value: function (u, v, s, idx) { return idx == null ? '' : String(h.renewals[idx]); },
    };
  }));
  var width = function () { return Math.max(320, container.clientWidth); };
  var chart = new uPlot({
    width: width(),
    height: 260,
    // Days are UTC days, whatever the viewer's time zone.
    tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'); },
    // Half a day of room at each end: the bars are centred on their day, so today's would be cut in half.
    scales: { x: { time: true, range: function (u, min, max) { return [min - 43200, max + 43200]; } }, y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
    axes: [{}, { label: 'renewals', size: 50, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }],
    series: series,
  }, [days].concat(stacked), container);
  window.addEventListener('resize', function () { chart.setSize({ width: width(), height: 260 }); });
})();
`;
