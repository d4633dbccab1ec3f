package kubetest

import (
	authzv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// Reviewer is a clientset whose access reviews answer allowed (and err),
// and the reviews it was asked so far.
func Reviewer(allowed bool, err error) (*fake.Clientset, *[]authzv1.ResourceAttributes) {
	cs := fake.NewClientset()
	asked := &[]authzv1.ResourceAttributes{}
	cs.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		review := a.(k8stesting.CreateAction).GetObject().(*authzv1.SelfSubjectAccessReview)
		*asked = append(*asked, *review.Spec.ResourceAttributes)
		return true, &authzv1.SelfSubjectAccessReview{Status: authzv1.SubjectAccessReviewStatus{Allowed: allowed}}, err
	})
	return cs, asked
}
