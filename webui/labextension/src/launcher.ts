/**
 * The Launcher as soon as JupyterLab has restored its layout, when nothing is open and the address asks to
 * open nothing (plain /lab). JupyterLab opens it only once routing ends, and routing first waits for the
 * workspace to be saved (apputils-extension's load-statedb awaits the save's 500 ms debouncer, and each
 * change during the restore starts it again): every start showed an empty lab for half a second or more.
 * The file browser's own check, when routing ends, then finds the main area taken and opens no second one.
 */
import {
  ILabShell,
  IRouter,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';

const LAUNCHER_CREATE = 'launcher:create';

/** /lab itself: no file (/lab/tree/…), no named workspace, no ?clone or ?reset to carry out first. */
function opensNothing(router: IRouter): boolean {
  const { path, search } = router.current;
  const lab = URLExt.join('/', PageConfig.getOption('appUrl') || 'lab');
  const query = URLExt.queryStringToObject(search || '');
  return path.replace(/\/+$/, '') === lab && !('clone' in query) && !('reset' in query);
}

export const earlyLauncher: JupyterFrontEndPlugin<void> = {
  id: '@appliance/gallery:early-launcher',
  description: 'Opens the Launcher once the layout is restored, not after the workspace is saved.',
  autoStart: true,
  requires: [ILabShell, IRouter],
  activate: (app: JupyterFrontEnd, shell: ILabShell, router: IRouter) => {
    if (!opensNothing(router)) {
      return;
    }
    void app.restored.then(() => {
      if (shell.isEmpty('main') && app.commands.hasCommand(LAUNCHER_CREATE)) {
        void app.commands.execute(LAUNCHER_CREATE);
      }
    });
  }
};
