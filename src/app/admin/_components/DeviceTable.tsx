'use client';
import { ConfirmButton } from '@/app/components/ConfirmButton.tsx';
import { OnlineDot } from '@/app/components/OnlineDot.tsx';
import { Timestamp } from '@/app/components/Timestamp.tsx';
import type { DeviceRow } from '../_connection/rows.ts';

/** Devices with their live online state; revoking asks first. */
export function DeviceTable({
  devices,
  userName,
  onRevoke,
}: {
  devices: DeviceRow[];
  userName: (userId: string) => string;
  onRevoke: (device: DeviceRow) => Promise<void>;
}) {
  return (
    <div className="table-wrap">
      <table className="data-table" data-testid="device-table">
        <thead>
          <tr>
            <th scope="col">Device</th>
            <th scope="col">User</th>
            <th scope="col">State</th>
            <th scope="col">Last seen</th>
            <th scope="col">Created</th>
            <th scope="col">
              <span className="visually-hidden">Revoke</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {devices.map((device) => (
            <tr key={device.deviceId} data-testid="device-row" data-device-id={device.deviceId}>
              <td>
                {device.name}
                <br />
                <code className="uid muted">{device.deviceId}</code>
              </td>
              <td>{userName(device.userId)}</td>
              <td>
                <OnlineDot online={device.online} />
              </td>
              <td className="nowrap">
                <Timestamp iso={device.lastSeenAt} empty="never" />
              </td>
              <td className="nowrap">
                <Timestamp iso={device.createdAt} />
              </td>
              <td className="actions">
                <ConfirmButton
                  label="Revoke"
                  question={`Revoke ${device.name}? Its token stops working and it is disconnected.`}
                  confirmLabel="Yes, revoke"
                  onConfirm={() => onRevoke(device)}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
