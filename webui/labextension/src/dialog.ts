/**
 * The Publish dialog's form, and the progress shown after publishing.
 */
import { Dialog } from '@jupyterlab/apputils';
import { NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { IMe, IPublication, IPublishRequest } from './api';

const HEADING = /^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$/m;

/** The first markdown heading of the notebook, else its file name without .ipynb. */
export function defaultTitle(panel: NotebookPanel): string {
  const cells = panel.content.model?.cells;
  for (let i = 0; cells && i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type === 'markdown') {
      const found = HEADING.exec(cell.sharedModel.getSource());
      if (found) {
        return found[1].replace(/[*_`]/g, '').trim();
      }
    }
  }
  return panel.context.localPath.split('/').pop()!.replace(/\.ipynb$/, '');
}

function field(
  form: HTMLElement,
  label: string,
  control: HTMLElement,
  hint = ''
): void {
  const row = document.createElement('label');
  row.className = 'jp-appliance-gallery-field';
  const text = document.createElement('span');
  text.textContent = label;
  row.append(text, control);
  if (hint) {
    const small = document.createElement('small');
    small.textContent = hint;
    row.append(small);
  }
  form.append(row);
}

function option(select: HTMLSelectElement, value: string, text: string): void {
  const element = document.createElement('option');
  element.value = value;
  element.textContent = text;
  select.append(element);
}

/** The form; ``getValue`` gives the request for the dialog's result. */
export class PublishForm extends Widget implements Dialog.IBodyWidget<IPublishRequest> {
  private title_ = document.createElement('input');
  private summary = document.createElement('textarea');
  private tags = document.createElement('input');
  private visibility = document.createElement('select');
  private strip = document.createElement('input');
  private target = document.createElement('select');

  constructor(
    private path: string,
    title: string,
    me: IMe | null,
    earlier: IPublication[]
  ) {
    super();
    this.addClass('jp-appliance-gallery-form');
    const form = document.createElement('div');
    this.title_.value = title;
    this.title_.name = 'title';
    this.title_.maxLength = 200;
    field(form, 'Title', this.title_);
    this.summary.name = 'summary';
    this.summary.rows = 3;
    field(form, 'Summary', this.summary);
    this.tags.name = 'tags';
    this.tags.placeholder = 'e.g. momentum, pandas';
    field(form, 'Tags', this.tags, 'Separated by commas');
    this.visibility.name = 'visibility';
    option(this.visibility, 'lab', 'Everyone in the lab');
    for (const group of me?.groups ?? []) {
      option(this.visibility, `group:${group}`, `Only the group ${group}`);
    }
    option(this.visibility, 'unlisted', 'Unlisted: only people with the link');
    field(form, 'Who can see it', this.visibility);
    this.strip.type = 'checkbox';
    this.strip.name = 'strip_outputs';
    field(
      form,
      'Strip outputs',
      this.strip,
      'Publish the code and text only, for notebooks that show data that must not leave you'
    );
    this.target.name = 'new_version_of';
    option(this.target, '', 'A new publication');
    for (const publication of earlier) {
      option(
        this.target,
        publication.slug,
        `A new version of “${publication.title}” (now version ${publication.version})`
      );
    }
    if (earlier.length) {
      this.target.value = earlier[0].slug;
    }
    field(form, 'Publish as', this.target);
    this.node.append(form);
  }

  getValue(): IPublishRequest {
    return {
      path: this.path,
      title: this.title_.value.trim(),
      summary: this.summary.value.trim(),
      tags: this.tags.value
        .split(',')
        .map(tag => tag.trim())
        .filter(tag => tag),
      visibility: this.visibility.value,
      strip_outputs: this.strip.checked,
      new_version_of: this.target.value || null
    };
  }
}

const STATES: { [state: string]: string } = {
  saving: 'Saving the notebook…',
  sending: 'Sending the saved notebook to the gallery…',
  queued: 'Published; waiting for its turn to be rendered…',
  rendering: 'Published; rendering it…',
  done: 'Published and rendered.',
  failed: 'Published, but rendering failed'
};

/** The progress of one publishing: its state, then a link to the published page. */
export class PublishProgress extends Widget {
  private status = document.createElement('p');
  private link = document.createElement('a');

  constructor() {
    super();
    this.addClass('jp-appliance-gallery-progress');
    this.status.setAttribute('role', 'status');
    this.link.target = '_top'; // out of the Research page's frame, to the portal's page
    this.link.rel = 'noopener';
    this.link.textContent = 'Open in gallery';
    this.link.hidden = true;
    this.node.append(this.status, this.link);
  }

  state(state: string, detail = ''): void {
    const said = STATES[state] ?? state;
    this.status.textContent = detail ? `${said}: ${detail}` : said;
    this.status.dataset.state = state;
  }

  published(publication: IPublication): void {
    this.link.href = publication.url;
    this.link.textContent = `Open “${publication.title}” (version ${publication.version}) in the gallery`;
    this.link.hidden = false;
  }

  fail(message: string): void {
    this.status.textContent = `Not published: ${message}`;
    this.status.dataset.state = 'error';
    this.addClass('jp-mod-error');
  }
}
