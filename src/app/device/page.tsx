import type { Metadata } from 'next';
import { DeviceApp } from './DeviceApp';

export const metadata: Metadata = {
  title: 'This device · Presence',
  description: 'Run the Presence daemon in this browser: receive the notifications of your apps here.',
};

/** The browser device page: the Presence daemon in a web page (also how a phone runs it). */
export default function DevicePage() {
  return <DeviceApp />;
}
