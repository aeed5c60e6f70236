// Names each module of the API reference after the specifier users import it by: `keel`,
// `keel/testing`, `keel/guard`..., instead of its source path (`index`, `exports/guard`).
import { Converter } from 'typedoc';

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const module of context.project.children ?? []) {
      if (module.name === 'index') module.name = 'keel';
      else module.name = `keel/${module.name.replace(/^exports\//, '')}`;
    }
  });
}
