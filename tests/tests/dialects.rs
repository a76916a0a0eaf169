//! Every legacy dialect through the real Envoy: the filter translates, the origin
//! transforms the 1600×900 demo original, and the decoded output has the planned size.
//! Vendor dialects are sniffed from the URL's shape; imgix, Fastly and ImageResizer are
//! bound to path prefixes by `envoy/filter-config.json`.

mod common;

use common::{envoy, get};

fn check(cases: &[(&str, (u32, u32), &str)]) {
    for &(path, size, mime) in cases {
        let r = get(&format!("{}{path}", envoy()), &[]);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(r.header("content-type"), Some(mime), "{path}");
        assert_eq!(r.image_size(), size, "{path}");
    }
}

const JPEG: &str = "image/jpeg";
const WEBP: &str = "image/webp";

#[test]
fn generic() {
    check(&[
        ("/demo.jpg?width=300&height=300&crop=1", (300, 300), JPEG),
        ("/demo.jpg?width=300&crop=0,0,800,450", (300, 169), JPEG),
        ("/demo.jpg?w=400&h=300&fit=crop&format=webp", (400, 300), WEBP),
    ]);
}

#[test]
fn imgix() {
    check(&[
        ("/imgix/demo.jpg?w=0.25", (400, 225), JPEG),
        ("/imgix/demo.jpg?w=400&h=300&fit=crop", (400, 300), JPEG),
        ("/imgix/demo.jpg?w=300&h=300&fit=clip&fm=webp", (300, 169), WEBP),
    ]);
}

#[test]
fn fastly() {
    check(&[
        ("/fastly/demo.jpg?width=300&height=300&fit=cover", (533, 300), JPEG),
        ("/fastly/demo.jpg?width=300&height=300&fit=bounds", (300, 169), JPEG),
        ("/fastly/demo.jpg?width=320&format=webp", (320, 180), WEBP),
    ]);
}

#[test]
fn imageresizer() {
    check(&[
        ("/resizer/demo.jpg?width=300&height=300&mode=crop", (300, 300), JPEG),
        ("/resizer/demo.jpg?w=300&h=200&mode=pad&bgcolor=red", (300, 200), JPEG),
        ("/resizer/demo.jpg?width=300&crop=0,0,800,450", (300, 169), JPEG),
    ]);
}

#[test]
fn qiniu() {
    check(&[
        ("/demo.jpg?imageView2/1/w/200/h/200", (200, 200), JPEG),
        ("/demo.jpg?imageView2/2/w/300", (300, 169), JPEG),
        ("/demo.jpg?imageView2/2/w/300/format/webp", (300, 169), WEBP),
    ]);
}

#[test]
fn aliyun() {
    check(&[
        ("/demo.jpg?x-oss-process=image/resize,m_fill,w_300,h_300", (300, 300), JPEG),
        ("/demo.jpg?x-oss-process=image/resize,p_25", (400, 225), JPEG),
        ("/demo.jpg?x-oss-process=image/resize,w_200/format,webp", (200, 113), WEBP),
    ]);
}

#[test]
fn tencent() {
    check(&[
        ("/demo.jpg?imageMogr2/thumbnail/!50p", (800, 450), JPEG),
        ("/demo.jpg?imageMogr2/thumbnail/300x300!", (300, 300), JPEG),
        ("/demo.jpg?imageMogr2/thumbnail/!300x300r/gravity/center/crop/300x300", (300, 300), JPEG),
    ]);
}

#[test]
fn thumbor() {
    check(&[
        ("/unsafe/300x200/demo.jpg", (300, 200), JPEG),
        ("/unsafe/fit-in/300x300/demo.jpg", (300, 169), JPEG),
        ("/unsafe/0x0:800x450/160x90/filters:format(webp)/demo.jpg", (160, 90), WEBP),
    ]);
}

#[test]
fn cloudflare() {
    check(&[
        ("/cdn-cgi/image/width=300,height=300,fit=cover/demo.jpg", (300, 300), JPEG),
        ("/cdn-cgi/image/w=320,f=webp/demo.jpg", (320, 180), WEBP),
        ("/cdn-cgi/image/width=300,height=300,fit=pad,background=red/demo.jpg", (300, 300), JPEG),
    ]);
}
