// What the bench scripts send: one dispatch shape and one way to install the sample echo package,
// so every measurement runs the same task.
import { sampleArchive, sampleArchivesDir } from '@astraflow/examples';

/**
 * A `biz.exec.dispatch` payload with the bench's hello message.
 * @param {{ taskId: string, nodeType?: string, packageName?: string, runId?: string }} task
 */
export function benchTask({ taskId, nodeType = 'echo.echo', packageName = 'echo', runId = 'bench' }) {
  return {
    run_id: runId,
    task_id: taskId,
    node_id: 'n',
    node_type: nodeType,
    package_name: packageName,
    package_version: '1.0.0',
    parameters: { message: 'hello' },
    constraints: {},
  };
}

/**
 * Installs the sample archive echo 1.0.0 through `scheduler`, served by its file server `files`
 * (which serves `sampleArchivesDir`); resolves with the `biz.pkg.event`.
 */
export function installSampleEcho(scheduler, files) {
  const echo = sampleArchive('echo', '1.0.0');
  return scheduler.installPackage({
    name: 'echo',
    version: '1.0.0',
    url: `${files.baseUrl}/${echo.path.slice(sampleArchivesDir.length)}`,
    sha256: echo.sha256,
  });
}
