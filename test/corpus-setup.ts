import { corpusDir } from './support/corpus.ts';

/** Global setup of `make test-corpus`: stops the run at once, naming the folder, when the corpus is not there. */
export default function setup(): void {
  corpusDir('hl7v2');
  corpusDir('ccda');
}
