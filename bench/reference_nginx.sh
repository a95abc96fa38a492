# Sourced by bench/proxy.sh and bench/proxy_syscalls.sh, after bench_setup.sh: nginx as the
# upstream and as the reference reverse proxy, configured in one place so that every script
# compares meshd with the same nginx.

nginx_conf() { # name port body-of-server-block extra-http
  mkdir -p "$WORK/$1"
  cat > "$WORK/$1/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/$1/nginx.pid;
error_log $WORK/$1/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/$1;
  proxy_temp_path $WORK/$1;
  fastcgi_temp_path $WORK/$1;
  uwsgi_temp_path $WORK/$1;
  scgi_temp_path $WORK/$1;
  keepalive_requests 1000000;
  $4
  server {
    listen 127.0.0.1:$2 reuseport;
    $3
  }
}
CONF
}

# The upstream: nginx answering a small JSON body (fast enough not to be the bottleneck).
start_upstream() { # core port
  nginx_conf upstream "$2" 'location / { default_type application/json; return 200 "{\"ok\":true,\"from\":\"upstream\"}"; }' ''
  taskset -c "$1" nginx -c "$WORK/upstream/nginx.conf" & PIDS+=($!)
}

# nginx as the reference reverse proxy, with upstream keep-alive and the forwarded headers meshd
# sets. Its pid file is $WORK/proxy/nginx.pid.
start_nginx_proxy() { # core port upstream-port
  nginx_conf proxy "$2" 'location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
    }' "upstream backend { server 127.0.0.1:$3; keepalive 256; keepalive_requests 1000000; }"
  taskset -c "$1" nginx -c "$WORK/proxy/nginx.conf" & PIDS+=($!)
}
