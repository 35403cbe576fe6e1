//! OAuth across replicas: a flow started on one replica completes on another, its grant serves
//! every replica, and replicas refreshing one grant at once make one token request.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fact_runtime::ManualClock;
use fact_runtime::auth::{GrantStore as _, SqlGrantStore};
use fact_tests::cluster::{Cluster, Database};
use fact_tests::oauth_provider::{OAuthProvider, ProviderSettings};
use fact_tests::serve_process::WAIT;

use super::*;

/// The key grants are encrypted with, the same on every replica.
const SECRET_KEY: &str = "replica-secret-key-0123456789abcdefghij";
/// Where the provider sends the user back: the host is never reached, the test delivers the
/// callback to the replica it chooses (a server completes flows at this URI's path).
const REDIRECT_URI: &str = "http://127.0.0.1:9/oauth/callback";

/// A call of the tool that needs the `calc` scope and uses the caller's token.
fn secure_multiply(n: usize) -> Value {
    json!({"tool_name": "Fixture.SecureMultiply", "input": {"a": n, "b": 2}})
}

/// Three replicas sharing `database`, configured for the loopback `provider`.
struct OAuthCluster {
    runtime: tokio::runtime::Runtime,
    provider: OAuthProvider,
    database: Database,
    cluster: Cluster,
    _scratch: Scratch,
}

impl OAuthCluster {
    fn start(test: &str) -> Option<Self> {
        let database = Database::create(test)?;
        let runtime = tokio::runtime::Runtime::new().expect("a runtime for the provider");
        let settings = ProviderSettings {
            redirect_uri: REDIRECT_URI.to_owned(),
            ..ProviderSettings::default()
        };
        let clock = ManualClock::new(Duration::from_secs(1_700_000_000));
        let provider = runtime.block_on(OAuthProvider::start(settings, clock));
        let scratch = Scratch::new("oauth");
        let s = provider.settings();
        let env = [
            ("DATABASE_URL", database.url.clone()),
            ("SECRET_KEY", SECRET_KEY.to_owned()),
            ("OAUTH_CLIENT_ID", s.client_id.clone()),
            ("OAUTH_CLIENT_SECRET", s.client_secret.clone()),
            ("OAUTH_AUTHORIZATION_URL", provider.authorization_url()),
            ("OAUTH_TOKEN_URL", provider.token_url()),
            ("OAUTH_REDIRECT_URI", REDIRECT_URI.to_owned()),
        ];
        let cluster = Cluster::start(test, &scratch.0, 3, || serve(&scratch, &env))?;
        Some(Self {
            runtime,
            provider,
            database,
            cluster,
            _scratch: scratch,
        })
    }

    /// One call straight to replica `index`.
    fn call(&self, index: usize, request: &Value) -> (u16, Value) {
        let addr = self.cluster.addrs[index];
        self.runtime
            .block_on(execute(&http_client(), addr, request))
    }

    /// The user's browser approves at the provider `authorization_url` leads to; the
    /// provider's redirect back, which carries the code and the flow's `state`.
    fn approve(&self, authorization_url: &str) -> url::Url {
        let browser = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a browser");
        let response = self
            .runtime
            .block_on(browser.get(authorization_url).send())
            .expect("the provider answers");
        assert_eq!(response.status().as_u16(), 302);
        let location = response.headers()[reqwest::header::LOCATION]
            .to_str()
            .expect("a text Location");
        url::Url::parse(location).expect("the redirect is a URL")
    }

    /// The browser arrives back with `redirect`, at replica `index`: the status and page.
    fn callback(&self, redirect: &url::Url, index: usize) -> (u16, String) {
        let mut at = redirect.clone();
        let addr = self.cluster.addrs[index];
        at.set_port(Some(addr.port())).expect("a port");
        let response = self
            .runtime
            .block_on(http_client().get(at).send())
            .expect("the replica answers");
        let status = response.status().as_u16();
        let page = self.runtime.block_on(response.text()).expect("a page");
        (status, page)
    }

    /// Authorizes `ada` for `Fixture.SecureMultiply`: refused on replica 0, approved at the
    /// provider, back through replica 1; returns the provider's redirect.
    fn authorize(&self) -> url::Url {
        let (status, refused) = self.call(0, &secure_multiply(1));
        assert_eq!(status, 401, "{refused}");
        let url = refused["metadata"]["authorization_url"]
            .as_str()
            .expect("an authorization URL");
        let redirect = self.approve(url);
        let (status, page) = self.callback(&redirect, 1);
        assert_eq!(status, 200, "{page}");
        redirect
    }
}

#[test]
fn an_oauth_flow_started_on_one_replica_completes_on_another_once_and_serves_the_third() {
    let test = "an_oauth_flow_completes_on_another_replica";
    let Some(cluster) = OAuthCluster::start(test) else {
        return;
    };

    let redirect = cluster.authorize();

    assert_eq!(cluster.provider.code_exchanges(), 1);
    let (status, answer) = cluster.call(2, &secure_multiply(21));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"], json!(42.0));
    // The same callback again, at the third replica: the flow is used, and no second code
    // exchange reaches the provider.
    let (status, page) = cluster.callback(&redirect, 2);
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("could not be completed"), "{page}");
    assert_eq!(cluster.provider.code_exchanges(), 1);
}

#[test]
fn replicas_refreshing_one_expired_grant_at_once_make_one_token_request() {
    let test = "replicas_refresh_one_grant_once";
    let Some(cluster) = OAuthCluster::start(test) else {
        return;
    };
    cluster.authorize();
    // The grant's access token expires: whoever uses it next must refresh it first.
    cluster.runtime.block_on(async {
        let store = SqlGrantStore::connect(&cluster.database.url, SECRET_KEY)
            .await
            .expect("the shared grant store opens");
        let mut grant = store
            .get(API_USER)
            .await
            .expect("the store answers")
            .expect("ada's grant is shared");
        let an_hour_ago = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .saturating_sub(Duration::from_secs(3600));
        grant.expires_at = Some(an_hour_ago);
        store.put(grant).await.expect("the grant is stored");
    });

    // The provider holds the first refresh until every replica has had calls waiting on the
    // grant, so that a refresh made per replica would show as several requests.
    cluster.provider.hold_refreshes(true);
    let answers = cluster
        .runtime
        .spawn(load(cluster.cluster.balancer, 30, 30, secure_multiply));
    cluster.runtime.block_on(async {
        tokio::time::timeout(WAIT, cluster.provider.refresh_arrived())
            .await
            .expect("a refresh reaches the provider");
        // Not an assertion on time: room for the other replicas' calls to reach the grant.
        tokio::time::sleep(Duration::from_millis(500)).await;
    });
    cluster.provider.hold_refreshes(false);
    let answers = cluster.runtime.block_on(answers).expect("the calls finish");

    for (status, answer) in &answers {
        assert_eq!(*status, 200, "{answer}");
    }
    assert_eq!(cluster.provider.refreshes(), 1);
}
