'use client';
/** The dashboard's sections; links navigate client-side, so the live connection stays open. */
import Link from 'next/link';
import { usePathname } from 'next/navigation';

const sections = [
  { href: '/admin', label: 'Queues', also: '/admin/queues' },
  { href: '/admin/acks', label: 'Acks' },
  { href: '/admin/send', label: 'Test send' },
  { href: '/admin/apps', label: 'Apps' },
  { href: '/admin/users', label: 'Users' },
  { href: '/admin/devices', label: 'Devices' },
  { href: '/admin/uids', label: 'UIDs' },
];

function isActive(pathname: string, href: string, also?: string): boolean {
  if (pathname === href) return true;
  if (also && (pathname === also || pathname.startsWith(`${also}/`))) return true;
  return href !== '/admin' && pathname.startsWith(`${href}/`);
}

export function AdminNav() {
  const pathname = usePathname();
  return (
    <nav className="admin-nav" aria-label="Dashboard">
      <ul>
        {sections.map((section) => (
          <li key={section.href}>
            <Link href={section.href} aria-current={isActive(pathname, section.href, section.also) ? 'page' : undefined}>
              {section.label}
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}
