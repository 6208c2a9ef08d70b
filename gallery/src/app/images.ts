/**
 * Where the page loads a meme's image from. The router serves `/images/…`
 * on the page's own origin (and `npm run dev` proxies it), so an image URL
 * the memes subgraph built with another origin — its own address when no
 * PUBLIC_URL is set, an internal name behind a load balancer — is loaded
 * from here by its path and query (an AI meme's signature included). That
 * keeps every image under the page's `img-src 'self'`. Any other URL is
 * used as it is.
 */
export function imageSrc(imageUrl: string, pageOrigin: string = window.location.origin): string {
  const url = new URL(imageUrl, pageOrigin);
  return url.pathname.startsWith('/images/') ? `${url.pathname}${url.search}` : url.href;
}
