import { Timestamp } from '@/app/components/Timestamp.tsx';
import type { UserRow } from '../_connection/rows.ts';

export function UserTable({ users }: { users: UserRow[] }) {
  return (
    <div className="table-wrap">
      <table className="data-table" data-testid="user-table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">User id</th>
            <th scope="col" className="numeric">
              Devices
            </th>
            <th scope="col" className="numeric">
              UIDs
            </th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {users.map((user) => (
            <tr key={user.userId} data-testid="user-row" data-user-id={user.userId}>
              <td>{user.name}</td>
              <td>
                <code className="uid">{user.userId}</code>
              </td>
              <td className="numeric">{user.devices}</td>
              <td className="numeric">{user.uids}</td>
              <td className="nowrap">
                <Timestamp iso={user.createdAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
