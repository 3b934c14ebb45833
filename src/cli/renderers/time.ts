// Time formats of the bosh CLI: `15:04:05` (UTC) in event lines, Go's UnixDate
// (`Sat Nov  7 12:01:02 UTC 2026`) for task start/finish, `hh:mm:ss` durations.
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

export function formatHours(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  return `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}

export function formatUnixDate(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const day = String(d.getUTCDate()).padStart(2, ' ');
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${day} ${formatHours(unixSeconds)} UTC ${d.getUTCFullYear()}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  return `${two(Math.floor(s / 3600))}:${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}`;
}
