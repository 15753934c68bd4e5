//! The resource control policies of an organization: for each account, every RCP attached
//! to the root, to each OU on its path and to the account itself, which AWS evaluates for
//! every request to the account's resources (AWS Organizations User Guide, "Resource
//! control policies"). Read from the management account (or a delegated administrator)
//! with ListPoliciesForTarget and DescribePolicy, each target and policy once however many
//! accounts share them.
//!
//! Whether RCPs are enabled is read from the root's policy types: DescribeOrganization's
//! list of available types is documented as deprecated and does not list RCPs everywhere
//! (moto's does not).

use std::collections::HashMap;

use aws_sdk_organizations::types::{PolicyType, PolicyTypeStatus, Root};

use super::errors::CallFailure;
use crate::model::{AttachedRcp, Observed, RcpChain};

/// A target in the organization tree (root, OU or account) and how the report names it.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    /// `Root`, `Root/Prod`, or the account id.
    pub label: String,
}

/// Reads RCP chains, remembering each target's attachments and each policy's document.
pub struct RcpReader<'a> {
    org: &'a aws_sdk_organizations::Client,
    /// Whether RESOURCE_CONTROL_POLICY is enabled on the root.
    enabled: bool,
    attached: HashMap<String, Observed<Vec<AttachedRcp>>>,
    contents: HashMap<String, String>,
}

impl<'a> RcpReader<'a> {
    pub fn new(org: &'a aws_sdk_organizations::Client, root: &Root) -> Self {
        let enabled = root.policy_types().iter().any(|t| {
            t.r#type() == Some(&PolicyType::ResourceControlPolicy)
                && t.status() == Some(&PolicyTypeStatus::Enabled)
        });
        RcpReader {
            org,
            enabled,
            attached: HashMap::new(),
            contents: HashMap::new(),
        }
    }

    /// The chain for an account whose path from the root is `path` (the root first, the
    /// account last). Any refused or failed call makes the whole chain unknown: a chain
    /// missing one level could miss the Deny that level holds, or credit one it overrides.
    pub async fn chain(&mut self, path: &[Node]) -> Observed<RcpChain> {
        if !self.enabled {
            return Observed::Present(RcpChain {
                enabled: false,
                policies: Vec::new(),
            });
        }
        let mut policies = Vec::new();
        for node in path {
            if !self.attached.contains_key(&node.id) {
                let read = self.read_target(node).await;
                self.attached.insert(node.id.clone(), read);
            }
            match &self.attached[&node.id] {
                Observed::Present(list) => policies.extend(list.iter().cloned()),
                Observed::Absent => {}
                Observed::Denied { reason } => {
                    return Observed::Denied {
                        reason: reason.clone(),
                    };
                }
                Observed::Failed { reason } => {
                    return Observed::Failed {
                        reason: reason.clone(),
                    };
                }
            }
        }
        Observed::Present(RcpChain {
            enabled: true,
            policies,
        })
    }

    /// The RCPs attached to one target, with their documents.
    async fn read_target(&mut self, node: &Node) -> Observed<Vec<AttachedRcp>> {
        let mut out = Vec::new();
        let mut pages = self
            .org
            .list_policies_for_target()
            .target_id(&node.id)
            .filter(PolicyType::ResourceControlPolicy)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    return CallFailure::from_sdk(e)
                        .into_observed(&format!("ListPoliciesForTarget {}", node.label), &[]);
                }
            };
            for summary in page.policies() {
                let Some(id) = summary.id() else { continue };
                let content = match self.contents.get(id) {
                    Some(c) => c.clone(),
                    None => match self.org.describe_policy().policy_id(id).send().await {
                        Ok(d) => {
                            let Some(content) = d.policy().and_then(|p| p.content()) else {
                                return Observed::Failed {
                                    reason: format!("DescribePolicy {id}: no content returned"),
                                };
                            };
                            self.contents.insert(id.to_string(), content.to_string());
                            content.to_string()
                        }
                        Err(e) => {
                            return CallFailure::from_sdk(e)
                                .into_observed(&format!("DescribePolicy {id}"), &[]);
                        }
                    },
                };
                out.push(AttachedRcp {
                    id: id.to_string(),
                    name: summary.name().map(str::to_string),
                    attached_to: node.label.clone(),
                    aws_managed: summary.aws_managed(),
                    content,
                });
            }
        }
        Observed::Present(out)
    }
}
