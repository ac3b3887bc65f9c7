import { useEffect, useRef, useState } from 'react';
import { completeSignIn, currentSession, signIn, signOut, type Session } from './auth.ts';
import { whenSignedOut } from './api.ts';
import { href, useRoute } from './route.ts';
import { PatientSearch } from './views/PatientSearch.tsx';
import { PatientPage } from './views/PatientPage.tsx';
import { TumourBoard } from './views/TumourBoard.tsx';

/** The clinician's page: sign-in, then patient search, a patient's record, and the tumour board. */
export function App() {
  const [session, setSession] = useState<Session | undefined>(() => currentSession());
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(() => new URLSearchParams(location.search).has('code'));
  const route = useRoute();
  const main = useRef<HTMLElement>(null);

  useEffect(() => {
    whenSignedOut(() => {
      signOut();
      setSession(undefined);
      setError('Your session has ended. Sign in again.');
    });
    completeSignIn()
      .then((s) => s && setSession(s))
      .catch((e: unknown) => setError((e as Error).message))
      .finally(() => setBusy(false));
  }, []);

  // A new view: move focus to the main region so keyboard and screen reader users start there.
  useEffect(() => {
    main.current?.focus({ preventScroll: true });
  }, [route.view, route.view === 'patient' ? route.id : '']);

  const start = (): void => {
    setError(undefined);
    signIn().catch((e: unknown) => setError((e as Error).message));
  };

  return (
    <>
      <a className="skip" href="#main">Skip to content</a>
      <header className="top">
        <span className="brand">IDR</span>
        {session && (
          <nav aria-label="Main">
            <a href={href({ view: 'search' })} aria-current={route.view === 'search' ? 'page' : undefined}>Patients</a>
            <a href={href({ view: 'board' })} aria-current={route.view === 'board' ? 'page' : undefined}>Tumour board</a>
          </nav>
        )}
        {session && (
          <div className="who">
            <span data-testid="signed-in-as">{session.name}{session.role ? ` (${session.role})` : ''}</span>
            <button type="button" onClick={() => { signOut(); setSession(undefined); location.hash = '#/'; }}>Sign out</button>
          </div>
        )}
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {error && <p className="alert" role="alert">{error}</p>}
        {busy ? (
          <p role="status">Signing in…</p>
        ) : !session ? (
          <section className="signin" aria-labelledby="signin-title">
            <h1 id="signin-title">Integrated Diagnostics Record</h1>
            <p>A patient's lab results, pathology, imaging, letters and tumour board decisions on one page. Sign in with your hospital account.</p>
            <button type="button" className="primary" onClick={start}>Sign in</button>
          </section>
        ) : route.view === 'search' ? (
          <PatientSearch />
        ) : route.view === 'patient' ? (
          <PatientPage key={route.id} id={route.id} tab={route.tab} read={route.read} />
        ) : (
          <TumourBoard meeting={route.meeting} />
        )}
      </main>
    </>
  );
}
