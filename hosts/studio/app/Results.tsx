// A run's results: each saved image once, with its file's path and a link to open it, then the other values.
import { resultsOf, short, type Output } from './run-results.js';

export function Results({ outputs, testId = 'results' }: { outputs: readonly Output[]; testId?: string }) {
  const { images, values } = resultsOf(outputs);
  return (
    <section className="results" data-testid={testId} aria-label="Results">
      {images.map((image) => (
        <figure key={image.preview} data-testid="result">
          <img src={image.preview} alt={image.from.join(', ')} data-testid="result-image" />
          <figcaption>
            <span className="result-from">{image.from.join(', ')}</span>{' '}
            <a href={image.preview} target="_blank" rel="noreferrer" data-testid="result-link">
              open
            </a>
            {image.file && (
              <code className="result-file" data-testid="result-file">
                {image.file}
              </code>
            )}
          </figcaption>
        </figure>
      ))}
      {values.length > 0 && (
        <ol className="log">
          {values.map((o, i) => (
            <li key={i}>
              <b>
                {o.node}.{o.output}
              </b>{' '}
              {short(o.value)}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
