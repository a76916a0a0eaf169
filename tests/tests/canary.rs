//! A canary release rehearsed in a real Envoy (`envoy/canary.yaml`, the plain-Envoy twin
//! of istio/'s VirtualService and DestinationRule): weighted stable/canary clusters, a
//! header that pins to the canary, ring hashing on the filter's `x-pixgate-variant`.
//! Three origin processes tell themselves apart with `X-Pixgate-Version`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{get, repo, service, Response};
use pixgate_e2e::free_port;

const WASM_IN_CONFIG: &str = "target/wasm32-wasip1/wasm-release/pixgate_filter.wasm";
const CANARY_WEIGHT: f64 = 20.0;
/// Origins behind the `stable` cluster (two, so that hashing has a choice) and `canary`.
const STABLE: [&str; 2] = ["stable-a", "stable-b"];
const CANARY: &str = "canary";

/// A child process, killed when dropped (a failed assertion included).
struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn spawn(name: &'static str, cmd: &mut Command, work: &std::path::Path) -> Proc {
        let log = work.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc { name, child, log }
    }

    fn wait_until(&mut self, what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("{} exited ({status}):\n{}", self.name, std::fs::read_to_string(&self.log).unwrap_or_default());
            }
            if ready() {
                return;
            }
            assert!(Instant::now() < deadline, "{} not {what} after 60 s", self.name);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

struct Stack {
    envoy_url: String,
    _procs: Vec<Proc>,
}

fn status_of(url: &str) -> Option<u16> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    agent.get(url).call().ok().map(|r| r.status().as_u16())
}

/// Three origins and an Envoy on `envoy/canary.yaml`, stopped when dropped.
fn start_stack() -> Stack {
    let work = PathBuf::from(service("PIXGATE_E2E_WORK")).join("canary");
    std::fs::create_dir_all(&work).unwrap();
    let origin_bin = service("PIXGATE_E2E_ORIGIN_BIN");
    let data = service("PIXGATE_E2E_DATA");
    let mut procs = Vec::new();
    let mut ports = BTreeMap::new();
    for version in STABLE.into_iter().chain([CANARY]) {
        let port = free_port();
        let mut cmd = Command::new(&origin_bin);
        // The origin reads every PIXGATE_* variable as a setting: not this run's
        // PIXGATE_E2E_* addresses.
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PIXGATE_")) {
            cmd.env_remove(k);
        }
        let mut p = Proc::spawn(
            version,
            cmd.env("PIXGATE_LISTEN", format!("127.0.0.1:{port}"))
                .env("PIXGATE_STORE__ROOT", &data)
                .env("PIXGATE_VERSION", version),
            &work,
        );
        p.wait_until("healthy", || status_of(&format!("http://127.0.0.1:{port}/healthz")) == Some(200));
        ports.insert(version, port);
        procs.push(p);
    }
    let (envoy_port, admin_port) = (free_port(), free_port());
    let yaml = std::fs::read_to_string(repo().join("envoy/canary.yaml")).unwrap();
    let config = yaml
        .replace("port_value: 8080", &format!("port_value: {envoy_port}"))
        .replace("port_value: 9901", &format!("port_value: {admin_port}"))
        .replace("port_value: 8081", &format!("port_value: {}", ports[STABLE[0]]))
        .replace("port_value: 8082", &format!("port_value: {}", ports[STABLE[1]]))
        .replace("port_value: 8083", &format!("port_value: {}", ports[CANARY]))
        .replace(WASM_IN_CONFIG, &service("PIXGATE_E2E_WASM"));
    let cfg = work.join("canary.yaml");
    std::fs::write(&cfg, config).unwrap();
    let mut envoy = Proc::spawn(
        "envoy",
        Command::new(service("PIXGATE_E2E_ENVOY_BIN")).arg("-c").arg(&cfg).args([
            "--disable-hot-restart",
            "--log-level",
            "warn",
            "--concurrency",
            "2",
        ]),
        &work,
    );
    envoy.wait_until("ready", || status_of(&format!("http://127.0.0.1:{admin_port}/ready")) == Some(200));
    procs.push(envoy);
    Stack { envoy_url: format!("http://127.0.0.1:{envoy_port}"), _procs: procs }
}

fn version(r: &Response) -> String {
    r.header("x-pixgate-version").unwrap_or_else(|| panic!("no X-Pixgate-Version in {:?}", r.headers)).to_owned()
}

/// `GET path` for each path, four at a time; the serving origin's version per request.
/// The keys do not exist, so the origins answer 404 at once: routing, not transforming,
/// is under test here.
fn versions_of(stack: &Stack, paths: &[String], headers: &[(&str, &str)]) -> Vec<String> {
    let base = &stack.envoy_url;
    let chunk = paths.len().div_ceil(4).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = paths
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|p| {
                            let r = get(&format!("{base}{p}"), headers);
                            assert_eq!(r.status, 404, "{p}: {}", r.text());
                            version(&r)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    })
}

fn distinct_variants(n: usize, tag: &str) -> Vec<String> {
    (1..=n).map(|i| format!("/img/rehearsal/{tag}.jpg?w={i}")).collect()
}

#[test]
fn canary_release_rehearsal_in_a_real_envoy() {
    let stack = start_stack();
    canary_takes_its_weight_of_a_thousand_distinct_variants(&stack);
    the_canary_header_pins_every_request_to_the_canary(&stack);
    repeated_requests_for_one_variant_reach_one_stable_origin(&stack);
    a_legacy_url_is_rewritten_and_served_by_the_pinned_canary(&stack);
    origin_endpoints_are_not_exposed_through_the_gateway(&stack);
}

fn canary_takes_its_weight_of_a_thousand_distinct_variants(stack: &Stack) {
    let versions = versions_of(stack, &distinct_variants(1000, "share"), &[]);
    let canary = versions.iter().filter(|v| *v == CANARY).count();
    let share = canary as f64 / versions.len() as f64 * 100.0;
    eprintln!("canary share of {} distinct variants: {share:.1} % (weight {CANARY_WEIGHT})", versions.len());
    assert!((share - CANARY_WEIGHT).abs() <= 5.0, "canary share {share:.1} % is not {CANARY_WEIGHT} ± 5");
    let stable: Vec<&String> = versions.iter().filter(|v| *v != CANARY).collect();
    for name in STABLE {
        let n = stable.iter().filter(|v| **v == name).count();
        assert!(n * 4 >= stable.len(), "{name} got {n} of {} stable requests: the ring hash is lopsided", stable.len());
    }
    assert!(stable.iter().all(|v| STABLE.contains(&v.as_str())), "unexpected versions: {versions:?}");
}

fn the_canary_header_pins_every_request_to_the_canary(stack: &Stack) {
    let versions = versions_of(stack, &distinct_variants(200, "pinned"), &[("x-pixgate-canary", "1")]);
    assert!(versions.iter().all(|v| v == CANARY), "{:?}", versions.iter().collect::<BTreeSet<_>>());
}

fn repeated_requests_for_one_variant_reach_one_stable_origin(stack: &Stack) {
    // Each variant is asked for 20 times; whenever the weights send it to `stable`, the
    // ring hash must pick the same origin process. With 20 variants, both origins are
    // picked for some (all on one would happen by chance once in 500,000 runs).
    let mut seen_stable = BTreeSet::new();
    for i in 0..20 {
        let paths = vec![format!("/img/rehearsal/sticky-{i}.jpg?w=64"); 20];
        let versions = versions_of(stack, &paths, &[]);
        let stable: BTreeSet<&String> = versions.iter().filter(|v| *v != CANARY).collect();
        assert_eq!(stable.len(), 1, "variant {i} was served by {stable:?}");
        seen_stable.extend(stable.into_iter().cloned());
    }
    assert_eq!(seen_stable.len(), 2, "twenty variants all hashed to {seen_stable:?}");
}

fn a_legacy_url_is_rewritten_and_served_by_the_pinned_canary(stack: &Stack) {
    let r = get(&format!("{}/demo.jpg?width=32", stack.envoy_url), &[("x-pixgate-canary", "1")]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(version(&r), CANARY);
    assert_eq!(r.image_size(), (32, 18));
}

/// The filter reads these paths as image keys (`/img/healthz`, a JSON 404 from the
/// origin); with the filter bypassed the gateway's own 404 routes catch them.
fn origin_endpoints_are_not_exposed_through_the_gateway(stack: &Stack) {
    for path in ["/healthz", "/readyz", "/metrics"] {
        let r = get(&format!("{}{path}", stack.envoy_url), &[]);
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        let body = r.text();
        assert!(!matches!(body.as_str(), "ok" | "ready") && !body.contains("# TYPE"), "{path} answered {body:?}");
    }
}

/// The `http_filters` block of a config, without comments.
fn filter_block(yaml: &str) -> Vec<&str> {
    yaml.lines()
        .skip_while(|l| l.trim() != "http_filters:")
        .take_while(|l| !l.contains("envoy.filters.http.router"))
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect()
}

#[test]
fn canary_yaml_runs_the_same_filter_as_envoy_yaml() {
    let main = std::fs::read_to_string(repo().join("envoy/envoy.yaml")).unwrap();
    let canary = std::fs::read_to_string(repo().join("envoy/canary.yaml")).unwrap();
    let block = filter_block(&main);
    assert!(block.len() > 10, "no http_filters block found in envoy.yaml");
    assert_eq!(filter_block(&canary), block, "keep the filter sections of both files identical");
}
