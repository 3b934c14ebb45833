// Which scopes may use which route (director-api.md §1.3). Admin scopes may do everything; read
// scopes may read; the upload scopes may upload releases/stemcells; team scopes
// (`bosh.teams.<team>.admin|read`) see and change only their team's deployments and tasks.
export interface Principal {
  user: string;
  scopes: string[];
}

export interface Access {
  admin: boolean;
  read: boolean;
  releasesUpload: boolean;
  stemcellsUpload: boolean;
  /** Teams the principal administers / may read (read includes admin teams). */
  adminTeams: string[];
  readTeams: string[];
}

const TEAM_SCOPE = /^bosh\.teams\.([^.]+)\.(admin|read)$/;

export function accessOf(scopes: string[], directorUuid: string): Access {
  const has = (s: string) => scopes.includes(s);
  const admin = has('bosh.admin') || has(`bosh.${directorUuid}.admin`);
  const adminTeams: string[] = [];
  const readTeams: string[] = [];
  for (const scope of scopes) {
    const match = TEAM_SCOPE.exec(scope);
    if (!match) continue;
    if (match[2] === 'admin') adminTeams.push(match[1]);
    readTeams.push(match[1]);
  }
  return {
    admin,
    read: admin || has('bosh.read') || has(`bosh.${directorUuid}.read`),
    releasesUpload: admin || has('bosh.releases.upload'),
    stemcellsUpload: admin || has('bosh.stemcells.upload'),
    adminTeams: [...new Set(adminTeams)],
    readTeams: [...new Set(readTeams)],
  };
}

export type Decision =
  | { kind: 'allow' }
  | { kind: 'deny' }
  /** GET /deployments, GET /tasks: only the team's entries are shown. */
  | { kind: 'filter' }
  /** The principal's teams must own the deployment (admin teams when `write`). */
  | { kind: 'deployment'; deployment: string; write: boolean }
  /** POST /deployments by a team admin: the manifest's deployment must be new or the team's. */
  | { kind: 'new-deployment' }
  | { kind: 'task'; taskId: string; write: boolean };

const READ_METHODS = new Set(['GET', 'HEAD']);

/** POSTs that change nothing. */
function readLikePost(path: string): boolean {
  // diffs change nothing: BOSH serves them to readers
  return /^\/deployments\/[^/]+\/diff$/.test(path) || /^\/(configs|cloud_configs|runtime_configs|cpi_configs)\/diff$/.test(path);
}

const UPLOAD_RELEASE_ROUTES = new Set(['/releases', '/packages/matches', '/packages/matches_compiled']);

export function decide(method: string, path: string, access: Access): Decision {
  if (access.admin) return { kind: 'allow' };
  const reading = READ_METHODS.has(method) || (method === 'POST' && readLikePost(path));
  if (reading && access.read) return { kind: 'allow' };
  if (method === 'POST' && access.releasesUpload && UPLOAD_RELEASE_ROUTES.has(path)) return { kind: 'allow' };
  if (method === 'POST' && access.stemcellsUpload && path === '/stemcells') return { kind: 'allow' };
  if (access.readTeams.length === 0) return { kind: 'deny' };
  return teamDecision(method, path, reading, access);
}

function teamDecision(method: string, path: string, reading: boolean, access: Access): Decision {
  if (reading && (path === '/deployments' || path === '/tasks')) return { kind: 'filter' };
  // the catalog every team deploys from
  if (READ_METHODS.has(method) && /^\/(releases|stemcells|configs)(\/|$)/.test(path)) return { kind: 'allow' };
  const deployment = /^\/deployments\/([^/]+)(\/.*)?$/.exec(path);
  if (deployment) {
    if (!reading && access.adminTeams.length === 0) return { kind: 'deny' };
    return { kind: 'deployment', deployment: decodeURIComponent(deployment[1]), write: !reading };
  }
  if (method === 'POST' && path === '/deployments' && access.adminTeams.length > 0) return { kind: 'new-deployment' };
  const task = /^\/tasks\/(\d+)(\/output)?$/.exec(path);
  if (task && (reading || (method === 'DELETE' && !task[2] && access.adminTeams.length > 0))) {
    return { kind: 'task', taskId: task[1], write: !reading };
  }
  return { kind: 'deny' };
}

/** The documented permission failure text: the scopes that would have been enough. */
export function requiredScopes(method: string, path: string, directorUuid: string): string[] {
  const admin = ['bosh.admin', `bosh.${directorUuid}.admin`];
  if (READ_METHODS.has(method)) return [...admin, 'bosh.read', `bosh.${directorUuid}.read`];
  if (method === 'POST' && path === '/releases') return [...admin, 'bosh.releases.upload'];
  if (method === 'POST' && path === '/stemcells') return [...admin, 'bosh.stemcells.upload'];
  return admin;
}
