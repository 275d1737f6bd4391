import { errnoTable } from '@/shared/errnos';

export default function Home() {
  return (
    <main>
      <h1>Presence</h1>
      <p className="lead">Live notifications from applications to the devices of their users.</p>

      <h2>Send a notification</h2>
      <p>
        An application posts a JSON list of 1 to 1,000 notifications (or a single one) with its app key. Each goes to the queue of one user of that app, named
        by the UID the service gave the app for that user.
      </p>
      <pre>
        <code>{`curl -X POST https://<this host>/<appid>/notification \\
  -H 'Authorization: Bearer <app key>' \\
  -H 'Content-Type: application/json' \\
  -d '[{"UID": "<uid>", "message": "Your nick was used in #general", "action": "https://chat.example/#general", "ttl": 3600}]'`}</code>
      </pre>
      <p>
        The answer comes after the notifications are stored: <code>{'{"result":"OK","queue_size":1,"queue_sizes":{"<uid>":1}}'}</code>. A queue keeps the newest
        100 items; <code>action</code> is an http(s) URL or a deep link with a scheme the app registered; <code>ttl</code> (seconds, up to 30 days) drops an
        item that was not delivered in time.
      </p>

      <h2>Refusals</h2>
      <p>
        A refused request changes nothing and answers <code>{'{"result":"KO","errno":n,"error":"…"}'}</code>, with <code>errors</code> listing every offending
        item.
      </p>
      <table>
        <thead>
          <tr>
            <th>errno</th>
            <th>status</th>
            <th>meaning</th>
          </tr>
        </thead>
        <tbody>
          {errnoTable.map((row) => (
            <tr key={row.errno}>
              <td>{row.errno}</td>
              <td>{row.status}</td>
              <td>{row.meaning}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </main>
  );
}
