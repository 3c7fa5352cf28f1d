/**
 * @appliance/gallery: the lab's gallery inside JupyterLab. A showcase toggle in each cell's toolbar,
 * "Publish to gallery…" in the notebook toolbar, the File menu and the command palette, and "Open in
 * gallery" on a notebook already published. The member's server does the publishing
 * (appliance/singleuser): it reads the saved notebook and sends it to the portal. And the Launcher as soon
 * as the lab is restored (launcher.ts).
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  IToolbarWidgetRegistry,
  showDialog
} from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import * as api from './api';
import { earlyLauncher } from './launcher';
import { defaultTitle, PublishForm, PublishProgress } from './dialog';
import { isShowcase, markShowcases, toggleShowcase } from './showcase';

const PLUGIN_ID = '@appliance/gallery:plugin';

namespace CommandIDs {
  export const toggleShowcase = 'appliance-gallery:toggle-showcase';
  export const publish = 'appliance-gallery:publish';
  export const openInGallery = 'appliance-gallery:open-in-gallery';
}

const showcaseIcon = new LabIcon({
  name: 'appliance-gallery:showcase',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16"><path class="jp-icon3" fill="#616161" d="M12 17.3l-6.2 3.7 1.6-7L2 9.3l7.1-.6L12 2l2.9 6.7 7.1.6-5.4 4.7 1.6 7z"/></svg>'
});

const publishIcon = new LabIcon({
  name: 'appliance-gallery:publish',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16"><path class="jp-icon3" fill="#616161" d="M5 20h14v-2H5v2zm0-10h4v6h6v-6h4l-7-7-7 7z"/></svg>'
});

interface IOptions {
  pollIntervalMs: number;
  pollTimeoutS: number;
}

/** Emitted with a notebook's path when it was published (its "Open in gallery" then shows). */
const published = new Signal<object, string>({});

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}

/** "Open in gallery" in a notebook's toolbar, once the notebook has a publication. */
class GalleryLink extends Widget {
  constructor(private panel: NotebookPanel) {
    super({ node: document.createElement('a') });
    this.addClass('jp-appliance-gallery-open');
    const link = this.node as HTMLAnchorElement;
    link.target = '_top'; // the portal's page, out of the Research page's frame
    link.textContent = 'Open in gallery';
    this.hide();
    panel.context.ready.then(() => this.refresh());
    panel.context.pathChanged.connect(() => this.refresh());
    published.connect((_, path) => {
      if (path === panel.context.localPath) {
        void this.refresh();
      }
    });
  }

  async refresh(): Promise<void> {
    let publications: api.IPublication[] = [];
    try {
      publications = await api.publicationsOf(this.panel.context.localPath);
    } catch (error) {
      console.warn('@appliance/gallery: no publications to show', error);
    }
    const newest = publications[0];
    if (newest) {
      const link = this.node as HTMLAnchorElement;
      link.href = newest.url;
      link.title = `“${newest.title}”, version ${newest.version}, in the lab's gallery`;
      this.show();
    } else {
      this.hide();
    }
  }
}

async function publishNotebook(panel: NotebookPanel, options: IOptions): Promise<void> {
  const path = panel.context.localPath;
  const [me, earlier] = await Promise.all([
    api.me().catch(error => {
      console.warn('@appliance/gallery: the groups are unknown', error);
      return null;
    }),
    api.publicationsOf(path).catch(() => [] as api.IPublication[])
  ]);
  const form = new PublishForm(path, defaultTitle(panel), me, earlier);
  const answer = await showDialog({
    title: 'Publish to gallery',
    body: form,
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Publish' })],
    focusNodeSelector: 'input'
  });
  if (!answer.button.accept || !answer.value) {
    return;
  }
  const request = answer.value;
  const progress = new PublishProgress();
  const dialog = new Dialog({
    title: 'Publish to gallery',
    body: progress,
    buttons: [Dialog.okButton({ label: 'Close' })]
  });
  void dialog.launch();
  try {
    if (panel.context.model.dirty) {
      progress.state('saving'); // what is published is what is saved
      await panel.context.save();
    }
    progress.state('sending');
    // the answer has slug, version, url and state: the title is the one sent
    let publication: api.IPublication = {
      title: request.title,
      ...(await api.publish(request))
    };
    progress.published(publication);
    progress.state(publication.state);
    published.emit(path);
    const deadline = Date.now() + options.pollTimeoutS * 1000;
    while (
      !['done', 'failed'].includes(publication.state) &&
      !dialog.isDisposed &&
      Date.now() < deadline
    ) {
      await sleep(options.pollIntervalMs);
      publication = { ...publication, ...(await api.publication(publication.slug)) };
      progress.state(publication.state, publication.error ?? '');
    }
  } catch (error) {
    progress.fail(error instanceof Error ? error.message : String(error));
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: "Publish notebooks to the lab's gallery.",
  autoStart: true,
  requires: [INotebookTracker, IToolbarWidgetRegistry],
  optional: [ICommandPalette, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    toolbars: IToolbarWidgetRegistry,
    palette: ICommandPalette | null,
    settings: ISettingRegistry | null
  ) => {
    const options: IOptions = { pollIntervalMs: 1000, pollTimeoutS: 600 };
    if (settings) {
      void settings.load(PLUGIN_ID).then(loaded => {
        const update = () => {
          options.pollIntervalMs = loaded.get('pollIntervalMs').composite as number;
          options.pollTimeoutS = loaded.get('pollTimeoutS').composite as number;
        };
        update();
        loaded.changed.connect(update);
      });
    }
    const current = () => tracker.currentWidget;

    app.commands.addCommand(CommandIDs.toggleShowcase, {
      label: 'Showcase cell',
      caption:
        "Make this cell the notebook's showcase: its preview in the gallery (one cell per notebook)",
      icon: showcaseIcon,
      isEnabled: () => !!tracker.activeCell,
      isToggled: () => isShowcase(tracker.activeCell?.model),
      execute: () => {
        const panel = current();
        const cell = tracker.activeCell;
        if (panel && cell) {
          toggleShowcase(panel.content, cell);
          app.commands.notifyCommandChanged(CommandIDs.toggleShowcase);
        }
      }
    });
    app.commands.addCommand(CommandIDs.publish, {
      label: 'Publish to gallery…',
      caption: "Publish this notebook (as saved) to the lab's gallery",
      icon: publishIcon,
      isEnabled: () => !!current(),
      execute: () => {
        const panel = current();
        return panel ? publishNotebook(panel, options) : undefined;
      }
    });
    app.commands.addCommand(CommandIDs.openInGallery, {
      label: 'Open in gallery',
      caption: "This notebook's page in the lab's gallery",
      isEnabled: () => !!current(),
      execute: async () => {
        const panel = current();
        if (!panel) {
          return;
        }
        let said =
          'This notebook has not been published yet: use “Publish to gallery…”.';
        try {
          const [newest] = await api.publicationsOf(panel.context.localPath);
          if (newest) {
            window.open(newest.url, '_top');
            return;
          }
        } catch (error) {
          said = `The gallery cannot be asked: ${error instanceof Error ? error.message : error}`;
        }
        await showDialog({
          title: 'Open in gallery',
          body: said,
          buttons: [Dialog.okButton()]
        });
      }
    });
    toolbars.addFactory<NotebookPanel>(
      'Notebook',
      'appliance-open-in-gallery',
      panel => new GalleryLink(panel)
    );
    if (palette) {
      for (const command of Object.values(CommandIDs)) {
        palette.addItem({ command, category: 'Gallery' });
      }
    }
    tracker.widgetAdded.connect((_, panel) => markShowcases(panel));
    tracker.activeCellChanged.connect(() =>
      app.commands.notifyCommandChanged(CommandIDs.toggleShowcase)
    );
  }
};

export default [plugin, earlyLauncher];
