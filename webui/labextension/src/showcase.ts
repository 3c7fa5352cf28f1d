/**
 * The showcase cell: metadata.appliance.showcase = true on at most one cell of a notebook, shown with a
 * class and a badge on that cell.
 */
import { Cell, ICellModel } from '@jupyterlab/cells';
import { Notebook, NotebookPanel } from '@jupyterlab/notebook';

export const SHOWCASE_CLASS = 'jp-appliance-showcase';
const BADGE_CLASS = 'jp-appliance-showcase-badge';

export function isShowcase(model: ICellModel | null | undefined): boolean {
  const appliance = model?.getMetadata('appliance');
  return !!appliance && appliance.showcase === true;
}

function setShowcase(model: ICellModel, on: boolean): void {
  const appliance = { ...(model.getMetadata('appliance') ?? {}) };
  if (on) {
    appliance.showcase = true;
  } else {
    delete appliance.showcase;
  }
  if (Object.keys(appliance).length) {
    model.setMetadata('appliance', appliance);
  } else if (model.getMetadata('appliance') !== undefined) {
    model.deleteMetadata('appliance');
  }
}

/** Make ``cell`` the notebook's showcase (clearing any other), or clear it if it already is. */
export function toggleShowcase(notebook: Notebook, cell: Cell): void {
  const on = !isShowcase(cell.model);
  for (const other of notebook.widgets) {
    if (other !== cell && isShowcase(other.model)) {
      setShowcase(other.model, false);
    }
  }
  setShowcase(cell.model, on);
}

function mark(cell: Cell): void {
  const on = isShowcase(cell.model);
  cell.toggleClass(SHOWCASE_CLASS, on);
  let badge = cell.node.querySelector(`:scope > .${BADGE_CLASS}`);
  if (on && !badge) {
    badge = document.createElement('div');
    badge.className = BADGE_CLASS;
    badge.textContent = '★ Showcase';
    badge.setAttribute(
      'title',
      "This cell is the notebook's preview in the gallery"
    );
    cell.node.appendChild(badge);
  } else if (!on && badge) {
    badge.remove();
  }
}

/** Keep the marks of a notebook's cells in step with their metadata. */
export function markShowcases(panel: NotebookPanel): void {
  const notebook = panel.content;
  const refresh = () => notebook.widgets.forEach(mark);
  const watched = new WeakSet<ICellModel>();
  const watch = () => {
    const cells = notebook.model?.cells;
    if (!cells) {
      return;
    }
    for (let i = 0; i < cells.length; i++) {
      const model = cells.get(i);
      if (!watched.has(model)) {
        watched.add(model);
        model.metadataChanged.connect(() => {
          // the cell's widget may not exist yet when its model changes: mark on the next frame
          requestAnimationFrame(refresh);
        });
      }
    }
    requestAnimationFrame(refresh);
  };
  panel.context.ready.then(() => {
    watch();
    notebook.model?.cells.changed.connect(watch);
  });
}
