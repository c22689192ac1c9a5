vcl 4.1;

# bench/peers/varnish.vcl -- Varnish Cache as a video edge cache.
#
# Written for this harness from the Varnish 7 users' guide ("Grace mode and
# keep", "Backend servers"): request coalescing is built into Varnish (the
# waiting list on each object), so collapsing is on by default; stale is
# grace: an expired object is served for up to a day while a background
# fetch revalidates it, and when that fetch fails (origin down) the stale
# object keeps being served. Segments are streamed to waiting clients as
# they arrive (do_stream, the default). Storage is malloc (bench/run sets
# its size); thread_pools=1 and timeout_idle are set on the command line.
# bench/run fills in the @...@ names and runs varnishd as user varnish.

backend origin {
    .host = "@ORIGIN_HOST@";
    .port = "@ORIGIN_PORT@";
    .connect_timeout = 2s;
    .first_byte_timeout = 10s;
    .between_bytes_timeout = 10s;
}

sub vcl_recv {
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    # Video objects are public: cookies and auth headers do not vary them.
    unset req.http.Cookie;
    return (hash);
}

sub vcl_backend_response {
    # Stale-while-revalidate and stale-if-error, both from grace.
    set beresp.grace = 24h;
    # Keep expired objects for conditional revalidation (If-None-Match).
    set beresp.keep = 1h;
    # Segments are already compressed.
    set beresp.do_gzip = false;
    return (deliver);
}

sub vcl_deliver {
    if (obj.hits > 0) {
        set resp.http.X-Cache-Status = "HIT";
    } else {
        set resp.http.X-Cache-Status = "MISS";
    }
}
